// Send a work to pidsync, read what became of it, and verify a webhook pidsync sent, with the
// JDK alone (Java 11+: java.net.http, javax.crypto). Pure, DSpace and other Java CRIS code can
// copy the three static methods sign(), signedGet() and verifyWebhook().
//
// Run: javac Integrate.java && PIDSYNC_URL=... PIDSYNC_CLIENT=... PIDSYNC_SECRET=... \
//      WEBHOOK_BODY_FILE=body.json WEBHOOK_SIGNATURE='t=...,v1=...' java Integrate

// --8<-- [start:imports]
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
// --8<-- [end:imports]

public class Integrate {
    static final String URL = System.getenv("PIDSYNC_URL");
    static final String CLIENT = System.getenv("PIDSYNC_CLIENT");
    static final String SECRET = System.getenv("PIDSYNC_SECRET");
    // HTTP/1.1: the JDK client would otherwise try an h2c upgrade, which uvicorn refuses.
    static final HttpClient HTTP =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    // --8<-- [start:sign]
    /** Lower-case hex HMAC-SHA256 of payload, keyed with the client's secret. */
    static String hmacHex(String secret, byte[] payload) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        return HexFormat.of().formatHex(mac.doFinal(payload));
    }

    /** The Pidsync-Signature header for payload: t=<unix seconds>,v1=<hex>, over "<t>.<payload>". */
    static String sign(String secret, byte[] payload) throws Exception {
        long t = System.currentTimeMillis() / 1000;
        byte[] prefix = (t + ".").getBytes(StandardCharsets.UTF_8);
        byte[] signed = new byte[prefix.length + payload.length];
        System.arraycopy(prefix, 0, signed, 0, prefix.length);
        System.arraycopy(payload, 0, signed, prefix.length, payload.length);
        return "t=" + t + ",v1=" + hmacHex(secret, signed);
    }
    // --8<-- [end:sign]

    // --8<-- [start:send]
    /** POST one CloudEvent, signed over the exact bytes sent. */
    static HttpResponse<String> send(String eventJson) throws Exception {
        byte[] body = eventJson.getBytes(StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(URI.create(URL + "/events"))
                .header("Content-Type", "application/cloudevents+json")
                .header("Pidsync-Client", CLIENT)
                .header("Pidsync-Signature", sign(SECRET, body))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    }
    // --8<-- [end:send]

    // --8<-- [start:read]
    /** GET a path (and query), signed over "GET <target>" exactly as sent. */
    static HttpResponse<String> signedGet(String target) throws Exception {
        byte[] payload = ("GET " + target).getBytes(StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(URI.create(URL + target))
                .header("Pidsync-Client", CLIENT)
                .header("Pidsync-Signature", sign(SECRET, payload))
                .GET()
                .build();
        return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** /works/{source}/{id}: each percent-encoded as ONE segment (a source is a URL). */
    static String workPath(String source, String workId) {
        return "/works/" + segment(source) + "/" + segment(workId);
    }

    static String segment(String value) {
        // URLEncoder is for forms: it writes a space as "+", which a path must write as %20.
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
    // --8<-- [end:read]

    // --8<-- [start:webhook]
    /** True only if pidsync signed this raw body with the secret within 300 seconds. */
    static boolean verifyWebhook(String header, byte[] body, String secret) throws Exception {
        if (header == null) return false;
        Long t = null;
        List<String> candidates = new ArrayList<>();
        for (String part : header.split(",")) {
            String[] kv = part.trim().split("=", 2);
            if (kv.length != 2) continue;
            if (kv[0].equals("t")) {
                try { t = Long.parseLong(kv[1]); } catch (NumberFormatException e) { return false; }
            } else if (kv[0].equals("v1")) {
                candidates.add(kv[1].toLowerCase());
            }
        }
        if (t == null || candidates.isEmpty()) return false;
        if (Math.abs(System.currentTimeMillis() / 1000 - t) > 300) return false; // replayed
        byte[] prefix = (t + ".").getBytes(StandardCharsets.UTF_8);
        byte[] signed = new byte[prefix.length + body.length];
        System.arraycopy(prefix, 0, signed, 0, prefix.length);
        System.arraycopy(body, 0, signed, prefix.length, body.length);
        byte[] expected = hmacHex(secret, signed).getBytes(StandardCharsets.US_ASCII);
        for (String candidate : candidates) {
            // Constant-time comparison: never String.equals for signatures.
            if (MessageDigest.isEqual(expected, candidate.getBytes(StandardCharsets.US_ASCII))) {
                return true;
            }
        }
        return false;
    }
    // --8<-- [end:webhook]

    static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        return m.find() ? m.group(1) : null;
    }

    public static void main(String[] args) throws Exception {
        String source = "https://cris.example.edu";
        String workId = "example-java-" + UUID.randomUUID().toString().substring(0, 8);
        String event = "{\"specversion\":\"1.0\",\"id\":\"event-" + UUID.randomUUID() + "\","
                + "\"source\":\"" + source + "\",\"type\":\"work.published\","
                + "\"datacontenttype\":\"application/json\",\"data\":{\"id\":\"" + workId + "\","
                + "\"type\":\"dataset\",\"title\":\"Ocean temperatures 2020\","
                + "\"publisher\":\"Example University\",\"publication_date\":\"2026-03-01\","
                + "\"url\":\"https://repository.example.edu/" + workId + "\","
                + "\"contributors\":[{\"given\":\"Ada\",\"family\":\"Lovelace\"}]}}";
        HttpResponse<String> answer = send(event);
        if (answer.statusCode() >= 300) {
            System.out.println("rejected " + answer.statusCode() + " " + answer.body());
            System.exit(1);
        }
        String receipt = field(answer.body(), "receipt");
        System.out.println("accepted " + receipt);

        System.out.println("event " + field(signedGet("/events/" + receipt).body(), "status"));
        int code = 0;
        for (int i = 0; i < 40 && code != 200; i++) { // the worker applies it within moments
            code = signedGet(workPath(source, workId)).statusCode();
            if (code != 200) Thread.sleep(250);
        }
        System.out.println("work " + code);

        byte[] body = Files.readAllBytes(Path.of(System.getenv("WEBHOOK_BODY_FILE")));
        if (!verifyWebhook(System.getenv("WEBHOOK_SIGNATURE"), body, SECRET)) {
            System.out.println("webhook refused"); // answer 401: pidsync did not send this
            System.exit(1);
        }
        String text = new String(body, StandardCharsets.UTF_8);
        // The same secret signs your requests to pidsync: a captured request replayed here is
        // signed too. Only pidsync's own webhooks carry the source "pidsync".
        if (!"pidsync".equals(field(text, "source"))) {
            System.out.println("webhook refused: not from pidsync");
            System.exit(1);
        }
        System.out.println("webhook verified " + field(text, "type"));
    }
}
