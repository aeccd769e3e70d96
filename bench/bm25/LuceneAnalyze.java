// Prints Lucene 8's analysis of `id<TAB>text` lines as `id<TAB>tokens separated by spaces`, to make
// golden files for qx's analyzers. Analyzers: cjk (Lucene's CJKAnalyzer, default stop set).
// Build: javac -cp "/usr/share/java/*" -d bench/out/java bench/bm25/LuceneAnalyze.java
// Run:   java -cp "bench/out/java:/usr/share/java/*" LuceneAnalyze cjk IN.tsv > OUT.tsv
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.cjk.CJKAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

public class LuceneAnalyze {
  public static void main(String[] args) throws Exception {
    if (!args[0].equals("cjk")) throw new IllegalArgumentException("unknown analyzer " + args[0]);
    Analyzer a = new CJKAnalyzer();
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    for (String line : Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8)) {
      if (line.isEmpty()) continue;
      int tab = line.indexOf('\t');
      StringBuilder sb = new StringBuilder(line.substring(0, tab)).append('\t');
      try (TokenStream ts = a.tokenStream("contents", line.substring(tab + 1))) {
        CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
        ts.reset();
        boolean first = true;
        while (ts.incrementToken()) {
          if (!first) sb.append(' ');
          sb.append(term.toString());
          first = false;
        }
        ts.end();
      }
      out.println(sb);
    }
  }
}
