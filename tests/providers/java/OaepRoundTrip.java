// What Zalo's side does with our encrypted template values: the JVM's default provider for
// "RSA/ECB/OAEPWITHSHA-256ANDMGF1PADDING" (SunJCE: OAEP digest SHA-256, MGF1 with SHA-1).
//
//   java OaepRoundTrip decrypt <file with Base64 PKCS#8 private key>   stdin: name<TAB>cipher-b64
//   java OaepRoundTrip encrypt <file with Base64 X.509 public key>     stdin: name<TAB>plain-b64
//
// Output lines are name<TAB>result-b64 (the plaintext is Base64 too, so UTF-8 survives any console),
// or name<TAB>ERROR <exception class> when a value does not decrypt.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import javax.crypto.Cipher;

public class OaepRoundTrip {
    static final String TRANSFORMATION = "RSA/ECB/OAEPWITHSHA-256ANDMGF1PADDING";

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        byte[] keyBytes = Base64.getDecoder().decode(new String(Files.readAllBytes(Paths.get(args[1])), StandardCharsets.US_ASCII).trim());
        KeyFactory factory = KeyFactory.getInstance("RSA");
        Cipher cipher = Cipher.getInstance(TRANSFORMATION);
        if (mode.equals("decrypt")) {
            PrivateKey key = factory.generatePrivate(new PKCS8EncodedKeySpec(keyBytes));
            cipher.init(Cipher.DECRYPT_MODE, key);
        } else {
            PublicKey key = factory.generatePublic(new X509EncodedKeySpec(keyBytes));
            cipher.init(Cipher.ENCRYPT_MODE, key);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] parts = line.split("\t", 2);
            try {
                byte[] out = cipher.doFinal(Base64.getDecoder().decode(parts[1]));
                System.out.println(parts[0] + "\t" + Base64.getEncoder().encodeToString(out));
            } catch (Exception e) {
                System.out.println(parts[0] + "\tERROR " + e.getClass().getSimpleName());
            }
        }
    }
}
