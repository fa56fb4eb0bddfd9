package ai.lfm2moe.tests;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Just enough JSON for the golden files: parse into Map/List/String/Long/
 * Double/Boolean/null, and write back as Python's json.dumps(ensure_ascii=
 * False) does with default separators (", " and ": "), which is how the
 * tools of chat-a.jsonl are passed to the template.
 */
final class MiniJson {
    private final String s;
    private int i;

    private MiniJson(String s) {
        this.s = s;
    }

    static Obj parse(String text) {
        MiniJson p = new MiniJson(text);
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) p.value();
        return new Obj(m);
    }

    /** A parsed object with typed getters. */
    static final class Obj {
        final Map<String, Object> m;

        Obj(Map<String, Object> m) {
            this.m = m;
        }

        String str(String k) {
            return (String) m.get(k);
        }

        boolean bool(String k) {
            return Boolean.TRUE.equals(m.get(k));
        }

        int[] ints(String k) {
            List<?> l = (List<?>) m.get(k);
            int[] r = new int[l.size()];
            for (int j = 0; j < r.length; j++) {
                r[j] = ((Long) l.get(j)).intValue();
            }
            return r;
        }

        @SuppressWarnings("unchecked")
        List<Obj> objs(String k) {
            List<Obj> r = new ArrayList<>();
            for (Object o : (List<?>) m.get(k)) {
                r.add(new Obj((Map<String, Object>) o));
            }
            return r;
        }

        /** Each element re-serialized as Python json.dumps would; null if absent. */
        List<String> rawList(String k) {
            if (!m.containsKey(k)) {
                return null;
            }
            List<String> r = new ArrayList<>();
            for (Object o : (List<?>) m.get(k)) {
                StringBuilder b = new StringBuilder();
                dump(o, b);
                r.add(b.toString());
            }
            return r;
        }
    }

    static void dump(Object o, StringBuilder b) {
        if (o == null) {
            b.append("null");
        } else if (o instanceof String) {
            String str = (String) o;
            b.append('"');
            for (int j = 0; j < str.length(); j++) {
                char c = str.charAt(j);
                switch (c) {
                    case '"': b.append("\\\""); break;
                    case '\\': b.append("\\\\"); break;
                    case '\n': b.append("\\n"); break;
                    case '\r': b.append("\\r"); break;
                    case '\t': b.append("\\t"); break;
                    case '\b': b.append("\\b"); break;
                    case '\f': b.append("\\f"); break;
                    default:
                        if (c < 0x20) {
                            b.append(String.format("\\u%04x", (int) c));
                        } else {
                            b.append(c);
                        }
                }
            }
            b.append('"');
        } else if (o instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                b.append(first ? "" : ", ");
                first = false;
                dump(e.getKey(), b);
                b.append(": ");
                dump(e.getValue(), b);
            }
            b.append('}');
        } else if (o instanceof List) {
            b.append('[');
            boolean first = true;
            for (Object e : (List<?>) o) {
                b.append(first ? "" : ", ");
                first = false;
                dump(e, b);
            }
            b.append(']');
        } else if (o instanceof Boolean) {
            b.append((Boolean) o ? "true" : "false");
        } else {
            b.append(o);
        }
    }

    private void ws() {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private Object value() {
        ws();
        char c = s.charAt(i);
        if (c == '{') {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            ws();
            if (s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                ws();
                String k = string();
                ws();
                expect(':');
                m.put(k, value());
                ws();
                if (s.charAt(i++) == '}') {
                    return m;
                }
            }
        }
        if (c == '[') {
            List<Object> l = new ArrayList<>();
            i++;
            ws();
            if (s.charAt(i) == ']') {
                i++;
                return l;
            }
            while (true) {
                l.add(value());
                ws();
                if (s.charAt(i++) == ']') {
                    return l;
                }
            }
        }
        if (c == '"') {
            return string();
        }
        if (s.startsWith("true", i)) {
            i += 4;
            return Boolean.TRUE;
        }
        if (s.startsWith("false", i)) {
            i += 5;
            return Boolean.FALSE;
        }
        if (s.startsWith("null", i)) {
            i += 4;
            return null;
        }
        int start = i;
        while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
        String num = s.substring(start, i);
        if (num.matches("-?\\d+")) {
            return Long.parseLong(num);
        }
        return Double.parseDouble(num);
    }

    private void expect(char c) {
        if (s.charAt(i++) != c) {
            throw new IllegalArgumentException("expected " + c + " at " + (i - 1));
        }
    }

    private String string() {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char e = s.charAt(i++);
            switch (e) {
                case 'n': b.append('\n'); break;
                case 't': b.append('\t'); break;
                case 'r': b.append('\r'); break;
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'u':
                    b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    i += 4;
                    break;
                default: b.append(e);
            }
        }
    }
}
