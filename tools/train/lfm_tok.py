"""Byte-level BPE tokenizer matching llama.cpp's handling of `tokenizer.ggml.pre = "lfm2"`.

llama.cpp maps "lfm2" to its LLAMA3 pre-tokenizer with ignore_merges = true, so encoding is:
  1. split the text on special (CONTROL) tokens when parse_special is on;
  2. split each plain fragment with the llama3 regex below;
  3. map each piece's UTF-8 bytes through the GPT-2 byte-to-unicode table;
  4. a piece that is itself a vocabulary token is taken whole (ignore_merges), otherwise BPE:
     repeatedly merge the adjacent pair with the lowest merge rank (leftmost first on ties);
  5. a final symbol missing from the vocabulary falls back to its byte tokens.
Training (train_bpe) counts pairs within pieces, like any GPT-2 style BPE trainer, so the
tokenization used for the training data is exactly the one the C library will reproduce.
"""
import collections

import regex

# llama.cpp's LLAMA3 split (the lfm2 tokenizer.json pattern with the case-insensitive group
# spelled out).
SPLIT_RE = regex.compile(
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
    r"|[^\r\n\p{L}\p{N}]?\p{L}+"
    r"|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+")

# The CONTROL tokens of LFM2, ids 0..15, in the order of the published vocabulary.
SPECIAL_TOKENS = [
    "<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|fim_pre|>", "<|fim_mid|>", "<|fim_suf|>",
    "<|im_start|>", "<|im_end|>", "<|tool_list_start|>", "<|tool_list_end|>",
    "<|tool_call_start|>", "<|tool_call_end|>", "<|tool_response_start|>",
    "<|tool_response_end|>", "<|reserved_0|>", "<|reserved_1|>",
]
TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {c: b for b, c in BYTE_ENC.items()}


def pre_tokenize(text):
    """Plain text -> list of byte-encoded pieces (strings over the GPT-2 alphabet)."""
    return ["".join(BYTE_ENC[b] for b in m.encode("utf-8")) for m in SPLIT_RE.findall(text)]


def train_bpe(texts, n_merges, allow_pair=None):
    """Learn up to n_merges merges from an iterable of plain texts.

    allow_pair(a, b) may veto merges (we keep digits as single characters so that
    arithmetic is done digit by digit). Ties in pair counts are broken by the pair itself,
    so training is deterministic.
    """
    words = collections.Counter()
    special = regex.compile("|".join(regex.escape(t) for t in SPECIAL_TOKENS))
    for t in texts:
        for frag in special.split(t):  # special tokens never reach BPE at encode time
            words.update(pre_tokenize(frag))
    # word -> current symbol list
    split = {w: list(w) for w in words}
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, syms in split.items():
            c = words[w]
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += c
        best = None
        for p, c in pairs.items():
            if c < 2 or (allow_pair is not None and not allow_pair(*p)):
                continue
            if best is None or c > best[1] or (c == best[1] and p < best[0]):
                best = (p, c)
        if best is None:
            break
        (a, b), _ = best
        merges.append((a, b))
        for w, syms in split.items():
            if len(syms) < 2:
                continue
            out = []
            i = 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            split[w] = out
    return merges


def build_vocab(merges):
    """Token list: specials, then the 256 byte symbols in byte order, then one per merge."""
    tokens = list(SPECIAL_TOKENS) + [BYTE_ENC[b] for b in range(256)]
    seen = set(tokens)
    for a, b in merges:
        t = a + b
        if t not in seen:  # a merge can re-create an existing token only in odd corpora
            tokens.append(t)
            seen.add(t)
    types = [TOKEN_TYPE_CONTROL] * len(SPECIAL_TOKENS) + [TOKEN_TYPE_NORMAL] * (len(tokens) - len(SPECIAL_TOKENS))
    return tokens, types


class Tokenizer:
    def __init__(self, tokens, types, merges, bos_id=1, eos_id=7, add_bos=True):
        self.tokens = list(tokens)
        self.types = list(types)
        self.merges = [tuple(m) for m in merges]
        self.rank = {m: i for i, m in enumerate(self.merges)}
        self.tok2id = {}
        for i, t in enumerate(self.tokens):
            self.tok2id.setdefault(t, i)
        self.bos_id, self.eos_id, self.add_bos = bos_id, eos_id, add_bos
        self.control = [(t, i) for i, t in enumerate(self.tokens) if self.types[i] == TOKEN_TYPE_CONTROL]
        # longest first, as llama.cpp's special-token partitioning prefers the longest match
        self.control.sort(key=lambda x: -len(x[0]))
        self.cache = {}

    def _bpe_piece(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        tid = self.tok2id.get(piece)
        if tid is not None:  # ignore_merges: a whole piece in the vocabulary wins
            out = [tid]
        else:
            syms = list(piece)
            while len(syms) > 1:
                best, best_i = None, -1
                for i in range(len(syms) - 1):
                    r = self.rank.get((syms[i], syms[i + 1]))
                    if r is not None and (best is None or r < best):
                        best, best_i = r, i
                if best is None:
                    break
                syms[best_i:best_i + 2] = [syms[best_i] + syms[best_i + 1]]
            out = []
            for s in syms:
                tid = self.tok2id.get(s)
                if tid is not None:
                    out.append(tid)
                else:  # byte fallback: every single byte symbol is in the vocabulary
                    out.extend(self.tok2id[c] for c in s)
        self.cache[piece] = out
        return out

    def _split_special(self, text):
        """-> list of (is_special, str). Leftmost match; longest token at equal position."""
        out = []
        pos = 0
        while pos < len(text):
            best = None
            for t, i in self.control:
                j = text.find(t, pos)
                if j >= 0 and (best is None or j < best[0]):
                    best = (j, t, i)
            if best is None:
                out.append((False, text[pos:]))
                break
            j, t, i = best
            if j > pos:
                out.append((False, text[pos:j]))
            out.append((True, i))
            pos = j + len(t)
        return out

    def encode(self, text, add_special=True, parse_special=True):
        ids = [self.bos_id] if (add_special and self.add_bos) else []
        frags = self._split_special(text) if parse_special else [(False, text)]
        for is_sp, v in frags:
            if is_sp:
                ids.append(v)
            else:
                for piece in pre_tokenize(v):
                    ids.extend(self._bpe_piece(piece))
        return ids

    def decode(self, ids, keep_special=False):
        bs = bytearray()
        for i in ids:
            if self.types[i] == TOKEN_TYPE_CONTROL:
                if keep_special:
                    bs.extend(self.tokens[i].encode("utf-8"))
                continue
            bs.extend(BYTE_DEC[c] for c in self.tokens[i])
        return bs.decode("utf-8", errors="replace")
