// Stand-in for a Spring Boot jar: JDK only, so the e2e tests need no Maven/Gradle.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

public class Sample {
    // Exchanges currently inside a handler; the shutdown hook drains on this.
    private static final AtomicInteger inFlight = new AtomicInteger();

    public static void main(String[] args) throws Exception {
        int port = resolvePort(args);
        String version = readVersion();
        String mode = modeOf(envOr("SAMPLE_MODE", "ok"));
        long slowMs = Long.parseLong(envOr("SAMPLE_SLOW_MS", "400"));
        long startDelay = Long.parseLong(envOr("SAMPLE_START_DELAY_MS", "0"));

        if (mode.equals("crash")) {
            System.err.println("fatal: sample crash requested");
            System.exit(1);
        }
        if (mode.equals("ignore-term")) {
            // Replacing the TERM handler means the JVM never starts its shutdown sequence,
            // so only SIGKILL stops it: the deploy's kill escalation gets exercised.
            sun.misc.Signal.handle(new sun.misc.Signal("TERM"), s -> {});
        }
        if (startDelay > 0) {
            Thread.sleep(startDelay); // simulates a slow Spring context start
        }

        boolean unhealthy = mode.equals("unhealthy");
        // Releases that pass their health check and still fail their users: "flaky" answers 500 to
        // every 5th request to /, "slow" takes SAMPLE_SLOW_MS per request to /.
        Behaviour behaviour = new Behaviour(unhealthy, mode.equals("flaky"), mode.equals("slow") ? slowMs : 0);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 128);
        // Cached pool: slow requests must not block health checks or each other.
        ExecutorService pool = Executors.newCachedThreadPool();
        server.setExecutor(pool);
        server.createContext("/", ex -> handle(ex, version, port, behaviour));
        server.start();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("stopping version=" + version + " port=" + port);
            // JDK 17's HttpServer.stop(delay) closes the listener at once but then always
            // sleeps the whole delay when nothing is in flight (fixed only in JDK 21,
            // JDK-8304065). So run it on the side just to close the listener, and drain
            // on our own counter: exit as soon as no handler is running, at most ~20 s.
            Thread stopper = new Thread(() -> server.stop(20), "http-stop");
            stopper.setDaemon(true);
            stopper.start();
            long deadline = System.currentTimeMillis() + 20_000;
            int quietChecks = 0;
            while (System.currentTimeMillis() < deadline && quietChecks < 3) {
                // Several quiet checks in a row: a request parsed just before the listener
                // closed may not have reached its handler yet.
                quietChecks = inFlight.get() == 0 ? quietChecks + 1 : 0;
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    break;
                }
            }
            pool.shutdown();
            System.out.println("stopped version=" + version + " port=" + port);
        }));

        System.out.println("started version=" + version + " port=" + port + (mode.equals("ok") ? "" : " mode=" + mode));
    }

    private record Behaviour(boolean unhealthy, boolean flaky, long slowMs) {}

    // Requests to / so far, for the flaky mode's every 5th.
    private static final AtomicInteger rootRequests = new AtomicInteger();

    // SAMPLE_MODE_FILE names a file (relative to the working directory, the release directory)
    // whose text overrides SAMPLE_MODE: one host of a fleet can run a bad release while every host
    // gets the same env.
    private static String modeOf(String fallback) throws IOException {
        String file = System.getenv("SAMPLE_MODE_FILE");
        if (file == null || file.isEmpty() || !Files.exists(Paths.get(file))) return fallback;
        String text = new String(Files.readAllBytes(Paths.get(file)), StandardCharsets.UTF_8).trim();
        return text.isEmpty() ? fallback : text;
    }

    private static void handle(HttpExchange ex, String version, int port, Behaviour behaviour) throws IOException {
        inFlight.incrementAndGet();
        try {
            URI uri = ex.getRequestURI();
            Map<String, String> q = query(uri.getRawQuery());
            switch (uri.getPath()) {
                case "/":
                    if (behaviour.slowMs() > 0) {
                        try {
                            Thread.sleep(behaviour.slowMs());
                        } catch (InterruptedException ignored) {
                        }
                    }
                    if (behaviour.flaky() && rootRequests.incrementAndGet() % 5 == 0) {
                        send(ex, 500, "error: flaky version=" + version + " port=" + port + "\n");
                        break;
                    }
                    send(ex, 200, "version=" + version + " port=" + port + "\n");
                    break;
                case "/actuator/health":
                    if (behaviour.unhealthy()) send(ex, 503, "{\"status\":\"DOWN\"}");
                    else send(ex, 200, "{\"status\":\"UP\"}");
                    break;
                case "/slow": {
                    long ms = Long.parseLong(q.getOrDefault("ms", "1000"));
                    try {
                        Thread.sleep(ms);
                    } catch (InterruptedException ignored) {
                    }
                    send(ex, 200, "slow version=" + version + "\n");
                    break;
                }
                case "/env": {
                    byte[] v = rawEnv(q.getOrDefault("name", ""));
                    if (v == null) send(ex, 404, "unset\n");
                    else send(ex, 200, v);
                    break;
                }
                case "/prop": {
                    String v = System.getProperty(q.getOrDefault("name", ""));
                    if (v == null) send(ex, 404, "unset\n");
                    else send(ex, 200, v);
                    break;
                }
                case "/cwd":
                    send(ex, 200, System.getProperty("user.dir"));
                    break;
                default:
                    send(ex, 404, "not found\n");
            }
        } catch (RuntimeException e) {
            send(ex, 500, "error: " + e + "\n");
        } finally {
            ex.close();
            inFlight.decrementAndGet();
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        send(ex, status, body.getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, byte[] bytes) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        // Explicit length (never chunked) so clients see complete, well-formed responses.
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(bytes);
        }
    }

    // The exact bytes the process was given. System.getenv decodes with the locale
    // charset (ASCII under LANG=C on JDK 17) and would turn UTF-8 into '?'.
    private static byte[] rawEnv(String name) {
        try {
            byte[] all = Files.readAllBytes(Paths.get("/proc/self/environ"));
            byte[] prefix = (name + "=").getBytes(StandardCharsets.UTF_8);
            int start = 0;
            for (int i = 0; i <= all.length; i++) {
                if (i == all.length || all[i] == 0) {
                    if (i - start >= prefix.length && Arrays.equals(all, start, start + prefix.length, prefix, 0, prefix.length)) {
                        return Arrays.copyOfRange(all, start + prefix.length, i);
                    }
                    start = i + 1;
                }
            }
            return null;
        } catch (IOException e) {
            String v = System.getenv(name); // not Linux: best effort
            return v == null ? null : v.getBytes(StandardCharsets.UTF_8);
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw == null || raw.isEmpty()) return out;
        for (String pair : raw.split("&")) {
            int i = pair.indexOf('=');
            String k = i < 0 ? pair : pair.substring(0, i);
            String v = i < 0 ? "" : pair.substring(i + 1);
            out.put(URLDecoder.decode(k, StandardCharsets.UTF_8), URLDecoder.decode(v, StandardCharsets.UTF_8));
        }
        return out;
    }

    private static int resolvePort(String[] args) {
        for (String a : args) {
            if (a.startsWith("--server.port=")) return Integer.parseInt(a.substring("--server.port=".length()));
        }
        String p = System.getenv("SERVER_PORT");
        if (p == null || p.isEmpty()) p = System.getenv("PORT");
        if (p == null || p.isEmpty()) throw new IllegalStateException("no port: pass --server.port=N or set SERVER_PORT/PORT");
        return Integer.parseInt(p.trim());
    }

    private static String readVersion() throws IOException {
        try (InputStream in = Sample.class.getResourceAsStream("/version.txt")) {
            if (in == null) return "unknown";
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
    }

    private static String envOr(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }
}
