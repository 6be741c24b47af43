"""Tokenizer pair and task formats of the smol kind, shared by training and the runtime.

Two tokenizers: the encoder's WordPiece (MiniLM: `[CLS] text [SEP]`, lower-cased) and the
decoder's byte-level BPE (SmolLM2, no special tokens added). Formats:
- embedding / matching text / cross-attention input: encoder `[CLS] text [SEP]`;
- completion (decoder-only): the left context, cut at its last non-blank character; the cut
  whitespace is forced as the start of the generation (`heal_prompt`), because `"\\n\\n    "` is
  one BPE token and a prompt ending inside it makes the model start a new line;
- code -> text: the decoder reads the code's beginning, then the same signature again with an
  opening docstring (`summary_prompt_ids`), and writes the sentence, then `\"\"\"`; the encoder
  reads the code too, so a trained cross-attention can steer the frozen decoder;
- text -> code: encoder reads the description; the decoder `# <description>\\n` then the code;
- matching: encoder reads the text, decoder the code + end token; the last state is scored.
Nothing else in the project spells these prompts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tokenizers import Tokenizer

SUMMARY_CUE = '\n\n# Docstring of the function above, one sentence:\n"""'
SUMMARY_RESTATE = "\n\n\n# The same function, documented:\n"
SUMMARY_END = '"""'
CHARS_PER_TOKEN = 16  # inputs are cut to this many characters per token of budget first


class TokenizerPairError(ValueError):
    """A tokenizer file is missing, unreadable or does not fit the model."""


def _load(path: Path, what: str) -> Tokenizer:
    if not path.is_file():
        raise TokenizerPairError(f"{path}: missing ({what} tokenizer)")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a plain Exception on bad JSON
        raise TokenizerPairError(f"{path}: unreadable {what} tokenizer ({exc})") from exc


@dataclass
class TokenizerPair:
    """Encoder (WordPiece) and decoder (byte-level BPE) tokenizers."""

    enc: Tokenizer
    dec: Tokenizer
    cls_id: int
    sep_id: int
    enc_pad_id: int

    @classmethod
    def from_files(cls, enc_path: str | Path, dec_path: str | Path) -> "TokenizerPair":
        enc = _load(Path(enc_path), "encoder")
        dec = _load(Path(dec_path), "decoder")
        ids = {name: enc.token_to_id(name) for name in ("[CLS]", "[SEP]", "[PAD]")}
        if None in ids.values():
            raise TokenizerPairError(f"{enc_path}: not a BERT WordPiece tokenizer (lacks [CLS]/[SEP]/[PAD])")
        enc.no_truncation()
        enc.no_padding()
        dec.no_truncation()
        dec.no_padding()
        return cls(enc, dec, ids["[CLS]"], ids["[SEP]"], ids["[PAD]"])

    @property
    def dec_vocab_size(self) -> int:
        return self.dec.get_vocab_size(with_added_tokens=True)

    @property
    def enc_vocab_size(self) -> int:
        return self.enc.get_vocab_size(with_added_tokens=True)

    # ---- encoder side -----------------------------------------------------------------------
    def enc_ids(self, text: str, max_length: int) -> list[int]:
        """`[CLS] text [SEP]` in at most `max_length` ids."""
        text = text[:CHARS_PER_TOKEN * max_length]
        ids = self.enc.encode(text, add_special_tokens=False).ids[:max(0, max_length - 2)]
        return [self.cls_id] + ids + [self.sep_id]

    def enc_batch(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        cut = [t[:CHARS_PER_TOKEN * max_length] for t in texts]
        out = self.enc.encode_batch(cut, add_special_tokens=False)
        return [[self.cls_id] + e.ids[:max(0, max_length - 2)] + [self.sep_id] for e in out]

    # ---- decoder side -----------------------------------------------------------------------
    def dec_encode(self, text: str) -> list[int]:
        return self.dec.encode(text, add_special_tokens=False).ids

    def dec_decode(self, ids: Sequence[int]) -> str:
        return self.dec.decode(list(ids), skip_special_tokens=True)


def heal_prompt(prefix: str) -> tuple[str, str]:
    """(prompt, forced): the prefix cut after its last non-blank character, and the cut blank
    text that the generation must start with."""
    stripped = prefix.rstrip(" \t\r\n")
    return stripped, prefix[len(stripped):]


def signature_and_indent(code: str, max_lines: int = 6) -> tuple[str, str] | None:
    """A Python-style function's signature (its lines up to the first ending in `:`) and its
    body's indentation; None when the code has no such header."""
    lines = code.split("\n")
    for i, line in enumerate(lines[:max_lines]):
        if line.rstrip().endswith(":"):
            body = next((l for l in lines[i + 1:] if l.strip()), "")
            indent = body[:len(body) - len(body.lstrip())] or "    "
            return "\n".join(lines[:i + 1]), indent
    return None


def summary_prompt_ids(pair: "TokenizerPair", code: str, budget: int) -> list[int]:
    """Decoder ids of the summary prompt in at most `budget` tokens: the code's beginning (its
    signature and first lines say most about what it does), then the same signature again with
    an opening docstring, where a documented function's first sentence goes; code without a
    Python-style header gets a comment cue instead. (On 100 validation pairs the restated
    signature scored BLEU-4 12.6 against 7.1 for the comment cue and 9.2 for the signature alone.)"""
    header = signature_and_indent(code)
    tail_text = SUMMARY_CUE if header is None else f'{SUMMARY_RESTATE}{header[0]}\n{header[1]}"""'
    tail = pair.dec_encode(tail_text)
    code_ids = pair.dec_encode(code[:CHARS_PER_TOKEN * budget].rstrip())
    return code_ids[:max(0, budget - len(tail))] + tail


def text_to_code_prompt(text: str) -> str:
    return "# " + " ".join(text.split()) + "\n"


def clip_left(ids: list[int], budget: int) -> list[int]:
    return ids[-budget:] if budget > 0 else []


def first_sentence_of_summary(text: str) -> str:
    """The generated docstring up to its closing quotes or first line break."""
    text = text.split(SUMMARY_END, 1)[0].strip()
    return " ".join(text.split("\n", 1)[0].split())
