// Lucene 8 reference for the BM25 benchmark: Anserini's default English chain
// (StandardTokenizer, EnglishPossessiveFilter, LowerCaseFilter, 33-word English stop set,
// PorterStemFilter), BM25Similarity(k1=0.9, b=0.4), bag-of-words queries (each distinct term a
// SHOULD TermQuery boosted by its count, as Anserini builds them). Prints one JSON line and writes
// one TREC run per query file into bench/out/runs/.
// Build: javac -cp "/usr/share/java/*" -d bench/out/java bench/bm25/LuceneBench.java
// Run:   java -cp "bench/out/java:/usr/share/java/*" LuceneBench CORPUS.jsonl NAME INDEXDIR QUERIES.tsv...
// With -Dmode=build it only builds; with -Dmode=search it only opens the existing INDEXDIR and
// searches (so the searcher's RSS is measured alone), also at top 10 ("<queries>_top10" keys).
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.apache.lucene.analysis.*;
import org.apache.lucene.analysis.en.*;
import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.*;
import org.apache.lucene.index.*;
import org.apache.lucene.search.*;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.FSDirectory;

public class LuceneBench {
  static Analyzer analyzer() {
    return new Analyzer() {
      @Override
      protected TokenStreamComponents createComponents(String field) {
        Tokenizer src = new StandardTokenizer();
        TokenStream t = new EnglishPossessiveFilter(src);
        t = new LowerCaseFilter(t);
        t = new StopFilter(t, EnglishAnalyzer.ENGLISH_STOP_WORDS_SET);
        t = new PorterStemFilter(t);
        return new TokenStreamComponents(src, t);
      }
    };
  }

  // Minimal reader for the bench's own JSONL lines {"id": "...", "text": "..."}.
  static String jsonString(String line, String key) {
    int k = line.indexOf("\"" + key + "\":");
    int i = line.indexOf('"', k + key.length() + 3) + 1;
    StringBuilder sb = new StringBuilder();
    while (true) {
      char c = line.charAt(i++);
      if (c == '"') break;
      if (c == '\\') {
        char e = line.charAt(i++);
        switch (e) {
          case 'n': sb.append('\n'); break;
          case 't': sb.append('\t'); break;
          case 'r': sb.append('\r'); break;
          case 'b': sb.append('\b'); break;
          case 'f': sb.append('\f'); break;
          case 'u': sb.append((char) Integer.parseInt(line.substring(i, i + 4), 16)); i += 4; break;
          default: sb.append(e);
        }
      } else sb.append(c);
    }
    return sb.toString();
  }

  static long peakRssKb() throws IOException {
    for (String l : Files.readAllLines(Paths.get("/proc/self/status"))) {
      if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
    }
    return -1;
  }

  static long dirBytes(Path p) throws IOException {
    try (var s = Files.walk(p)) {
      return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }

  static Query bagOfWords(Analyzer a, String text) throws IOException {
    LinkedHashMap<String, Integer> counts = new LinkedHashMap<>();
    try (TokenStream ts = a.tokenStream("contents", text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (ts.incrementToken()) counts.merge(term.toString(), 1, Integer::sum);
      ts.end();
    }
    BooleanQuery.Builder b = new BooleanQuery.Builder();
    for (var e : counts.entrySet()) {
      b.add(new BoostQuery(new TermQuery(new Term("contents", e.getKey())), (float) e.getValue()), BooleanClause.Occur.SHOULD);
    }
    return b.build();
  }

  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  public static void main(String[] args) throws Exception {
    String corpus = args[0], name = args[1];
    Path indexDir = Paths.get(args[2]);
    BooleanQuery.setMaxClauseCount(1 << 16);
    Analyzer a = analyzer();
    BM25Similarity sim = new BM25Similarity(0.9f, 0.4f);
    String mode = System.getProperty("mode", "both");
    long t0 = System.nanoTime();
    long c0 = cpuNanos();
    int n = 0;
    if (!mode.equals("search")) {
    IndexWriterConfig cfg = new IndexWriterConfig(a).setSimilarity(sim).setOpenMode(IndexWriterConfig.OpenMode.CREATE).setRAMBufferSizeMB(256);
    try (IndexWriter w = new IndexWriter(FSDirectory.open(indexDir), cfg);
         BufferedReader r = Files.newBufferedReader(Paths.get(corpus), StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isEmpty()) continue;
        Document d = new Document();
        d.add(new StringField("id", jsonString(line, "id"), Field.Store.YES));
        d.add(new TextField("contents", jsonString(line, "text"), Field.Store.NO));
        w.addDocument(d);
        n++;
      }
      w.commit();
    }
    }
    double buildS = (System.nanoTime() - t0) / 1e9;
    double buildCpuS = (cpuNanos() - c0) / 1e9;
    long rssBuild = peakRssKb();
    StringBuilder json = new StringBuilder();
    json.append(String.format(Locale.ROOT, "{\"engine\":\"lucene\",\"corpus\":\"%s\",\"lucene\":\"%s\",\"build_s\":%.2f,\"build_cpu_s\":%.2f,\"peak_rss_build_mb\":%d", name,
        org.apache.lucene.util.Version.LATEST, buildS, buildCpuS, rssBuild / 1024));
    if (mode.equals("build")) {
      json.append(String.format(Locale.ROOT, ",\"docs\":%d,\"index_mb\":%.1f,\"peak_rss_mb\":%d}", n, dirBytes(indexDir) / 1048576.0, peakRssKb() / 1024));
      System.out.println(json);
      return;
    }
    Path runs = Paths.get("bench/out/runs");
    Files.createDirectories(runs);
    long o0 = System.nanoTime();
    try (DirectoryReader reader = DirectoryReader.open(FSDirectory.open(indexDir))) {
      json.append(String.format(Locale.ROOT, ",\"open_ms\":%.1f", (System.nanoTime() - o0) / 1e6));
      n = reader.numDocs();
      IndexSearcher searcher = new IndexSearcher(reader);
      searcher.setSimilarity(sim);
      for (int qi = 3; qi < args.length; qi++) for (int k : new int[] {1000, 10}) {
        List<String[]> qs = new ArrayList<>();
        for (String l : Files.readAllLines(Paths.get(args[qi]), StandardCharsets.UTF_8)) {
          if (l.isEmpty()) continue;
          int tab = l.indexOf('\t');
          qs.add(new String[] {l.substring(0, tab), l.substring(tab + 1)});
        }
        // The JVM's JIT needs more than V8: three full warm-up passes (this favours Lucene).
        for (int rep = 0; rep < 3; rep++) for (String[] q : qs) searcher.search(bagOfWords(a, q[1]), k);
        double[] times = new double[qs.size()];
        double[] cpu = new double[qs.size()];
        StringBuilder run = new StringBuilder();
        for (int i = 0; i < qs.size(); i++) {
          long s = System.nanoTime();
          long cs = cpuNanos();
          TopDocs top = searcher.search(bagOfWords(a, qs.get(i)[1]), k);
          times[i] = (System.nanoTime() - s) / 1e6;
          cpu[i] = (cpuNanos() - cs) / 1e6;
          int rank = 1;
          for (ScoreDoc sd : top.scoreDocs) {
            String id = reader.document(sd.doc).get("id");
            run.append(qs.get(i)[0]).append(" Q0 ").append(id).append(' ').append(rank++).append(' ').append(sd.score).append(" lucene\n");
          }
        }
        Arrays.sort(times);
        Arrays.sort(cpu);
        String qname = Paths.get(args[qi]).getFileName().toString().replace(".tsv", "") + (k == 1000 ? "" : "_top" + k);
        Files.write(runs.resolve("lucene." + name + "." + qname + ".txt"), run.toString().getBytes(StandardCharsets.UTF_8));
        double p50 = times[(int) Math.ceil(0.5 * times.length) - 1], p95 = times[(int) Math.ceil(0.95 * times.length) - 1];
        double mean = Arrays.stream(times).average().orElse(0);
        double cpu50 = cpu[(int) Math.ceil(0.5 * cpu.length) - 1];
        json.append(String.format(Locale.ROOT, ",\"%s\":{\"p50_ms\":%.2f,\"p95_ms\":%.2f,\"mean_ms\":%.2f,\"cpu_p50_ms\":%.2f}", qname, p50, p95, mean, cpu50));
      }
    }
    json.append(String.format(Locale.ROOT, ",\"docs\":%d,\"index_mb\":%.1f,\"peak_rss_mb\":%d}", n, dirBytes(indexDir) / 1048576.0, peakRssKb() / 1024));
    System.out.println(json);
  }
}
