// Trust the redirect back from pidsync's ORCID consent flow only if pidsync signed it.
//
// Run: javac Consent.java && ORCID_CLIENT_SECRET=... java Consent 'https://cris.example.edu/orcid/done?...'

// --8<-- [start:imports]
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
// --8<-- [end:imports]

public class Consent {
    // --8<-- [start:trusted]
    /** Form-encoding as pidsync (Python's urlencode) does it: "~" stays, "*" is %2A. */
    static String formEncode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("%7E", "~").replace("*", "%2A");
    }

    /** Whether orcid_sig signs these parameters with your ORCID client's secret, lately. */
    static boolean trusted(Map<String, String> params, String orcidClientSecret) throws Exception {
        StringBuilder text = new StringBuilder();
        for (String key : List.of("orcid", "orcid_status", "orcid_ts", "person")) { // sorted
            if (!params.containsKey(key)) continue;
            if (text.length() > 0) text.append('&');
            text.append(key).append('=').append(formEncode(params.get(key)));
        }
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(orcidClientSecret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        byte[] expected = HexFormat.of()
                .formatHex(mac.doFinal(text.toString().getBytes(StandardCharsets.UTF_8)))
                .getBytes(StandardCharsets.US_ASCII);
        String ts = params.getOrDefault("orcid_ts", "");
        if (!ts.matches("\\d{1,12}")) return false;
        boolean fresh = Math.abs(System.currentTimeMillis() / 1000 - Long.parseLong(ts)) < 300;
        byte[] given = params.getOrDefault("orcid_sig", "").getBytes(StandardCharsets.US_ASCII);
        return fresh && MessageDigest.isEqual(expected, given); // constant time
    }
    // --8<-- [end:trusted]

    public static void main(String[] args) throws Exception {
        Map<String, String> params = new HashMap<>();
        String query = URI.create(args[0]).getRawQuery();
        for (String pair : query == null ? new String[0] : query.split("&")) {
            String[] kv = pair.split("=", 2);
            params.put(URLDecoder.decode(kv[0], StandardCharsets.UTF_8),
                    kv.length > 1 ? URLDecoder.decode(kv[1], StandardCharsets.UTF_8) : "");
        }
        if (!trusted(params, System.getenv("ORCID_CLIENT_SECRET"))) {
            System.out.println("refused");
            System.exit(1);
        }
        System.out.println("trusted " + params.get("orcid") + " " + params.get("orcid_status")
                + " " + params.get("person"));
    }
}
