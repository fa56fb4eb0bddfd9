package ai.lfm2moe;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

/**
 * Finds and loads the JNI library (liblfm2moe_jni.so, which carries the
 * whole of liblfm2moe), in this order:
 * <ol>
 * <li>the path in the system property {@code lfm2moe.jni.library};
 * <li>on Android, {@code System.loadLibrary} (the aar's jni/ABI/ directory);
 * <li>the copy for this platform carried in the jar as the resource
 *     {@code /ai/lfm2moe/native/linux-x86_64/liblfm2moe_jni.so} (or
 *     linux-aarch64), extracted to a private temporary file;
 * <li>{@code System.loadLibrary("lfm2moe_jni")} ({@code java.library.path}).
 * </ol>
 */
final class NativeLoader {
    private NativeLoader() {}

    static void load() {
        String path = System.getProperty("lfm2moe.jni.library");
        if (path != null && !path.isEmpty()) {
            System.load(path);
            return;
        }
        if (isAndroid()) {
            System.loadLibrary("lfm2moe_jni");
            return;
        }
        String platform = platform();
        String resource = "/ai/lfm2moe/native/" + platform + "/liblfm2moe_jni.so";
        try (InputStream in = platform == null ? null : NativeLoader.class.getResourceAsStream(resource)) {
            if (in != null) {
                System.load(extract(in).toString());
                return;
            }
        } catch (IOException e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError(
                    "cannot extract " + resource + " from the jar: " + e.getMessage());
            err.initCause(e);
            throw err;
        }
        try {
            System.loadLibrary("lfm2moe_jni");
        } catch (UnsatisfiedLinkError e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError("the jar has no JNI library for "
                    + (platform == null ? System.getProperty("os.name") + "/" + System.getProperty("os.arch") : platform)
                    + " and liblfm2moe_jni is not on java.library.path (" + e.getMessage() + ")");
            err.initCause(e);
            throw err;
        }
    }

    static boolean isAndroid() {
        return System.getProperty("java.vm.vendor", "").contains("Android")
                || System.getProperty("java.vendor", "").contains("Android");
    }

    /** "linux-x86_64", "linux-aarch64", or null for a platform the jar does not carry. */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux")) {
            return null;
        }
        if (arch.equals("amd64") || arch.equals("x86_64")) {
            return "linux-x86_64";
        }
        if (arch.equals("aarch64") || arch.equals("arm64")) {
            return "linux-aarch64";
        }
        return null;
    }

    /* A fresh file readable only by this user (a shared, predictable path
     * could be replaced by another user); deleted when the JVM exits (the
     * mapping stays valid after the unlink). */
    private static Path extract(InputStream in) throws IOException {
        Path dir = Files.createTempDirectory("lfm2moe-jni-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path file = dir.resolve("liblfm2moe_jni.so");
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        file.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        return file;
    }
}
