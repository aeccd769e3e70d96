// The Review panel's script: talks to the extension host only through src/protocol messages.
export {};
