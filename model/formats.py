"""Task formats, defined once and used by training and runtime alike.

Every task is an `Example`: encoder ids, a forced decoder prefix (no loss, fed before
generation), and target ids (what the decoder learns / generates, ending in `</s>` or a stop
sentinel). Training builds `decoder_input_ids = [start] + prefix + target[:-1]` and
`labels = [-100] * len(prefix) + target` (see `Example.decoder_inputs_and_labels`); the runtime
forces `[start] + prefix` and generates the target. Nothing else in the project spells a prompt.

Modes (see ../shared/reference/CODET5P.md):
- fill-in-the-middle: encoder `prefix <extra_id_0> suffix </s>`; decoder prefix `<extra_id_0>`;
  target `span <extra_id_1>` (the span-denoising shape with one span);
- decoder-only completion: encoder `[CLM] </s>`; no decoder prefix; target = code `</s>`;
  the runtime passes the left context as a forced decoder prefix (`causal_prompt`);
- seq2seq causal LM: encoder `[CLM] prefix </s>`; target `rest </s>`;
- code->text: encoder `<s> code </s>`, decoder prefix `[TDEC]`, target `text </s>`;
- text->code: encoder `<s> text </s>`, decoder prefix `[CDEC]`, target `code </s>`;
- matching: encoder `<s> text </s>`; decoder input `[ENC] code </s>`, the last `</s>` state goes
  to the matching head;
- embedding: encoder `<s> text </s>`, pooled at position 0;
- instruction: the Alpaca template as encoder input, target = response.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

IGNORE_INDEX = -100

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:"
)
ALPACA_TEMPLATE_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
HUMANEVAL_INSTRUCTION = "Create a Python script for this problem:\n{prompt}"
HUMANEVAL_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


class TokenizerLike(Protocol):
    """What the formats need from a tokenizer (`model.tokenizer.CodeTokenizer` fits)."""

    bos_id: int
    eos_id: int
    pad_id: int
    clm_id: int
    enc_id: int
    tdec_id: int
    cdec_id: int
    sentinel_ids: list[int]

    def encode(self, text: str) -> list[int]: ...


@dataclass
class Example:
    """One seq2seq example in ids."""

    encoder_ids: list[int]
    decoder_prefix: list[int] = field(default_factory=list)
    target_ids: list[int] = field(default_factory=list)

    def decoder_inputs_and_labels(self, decoder_start_id: int) -> tuple[list[int], list[int]]:
        """Teacher-forcing inputs and labels; the prefix is fed but never scored."""
        full = self.decoder_prefix + self.target_ids
        inputs = [decoder_start_id] + full[:-1]
        labels = [IGNORE_INDEX] * len(self.decoder_prefix) + list(self.target_ids)
        return inputs, labels


def _clip_left(ids: list[int], budget: int) -> list[int]:
    return ids[-budget:] if budget > 0 else []


def _clip_right(ids: list[int], budget: int) -> list[int]:
    return ids[:budget] if budget > 0 else []


def fim_example(tok: TokenizerLike, prefix: str, suffix: str, span: str | None = None,
                max_source_length: int = 512, suffix_share: float = 0.25) -> Example:
    """Fill-in-the-middle: `prefix <extra_id_0> suffix </s>` -> `span <extra_id_1>`.

    The source budget keeps the prefix's end and the suffix's start; the suffix gets at most
    `suffix_share` of the budget (more if the prefix is short).
    """
    return fim_example_ids(tok, tok.encode(prefix), tok.encode(suffix),
                           None if span is None else tok.encode(span),
                           max_source_length, suffix_share)


def fim_example_ids(tok: TokenizerLike, prefix_ids: list[int], suffix_ids: list[int],
                    span_ids: list[int] | None = None, max_source_length: int = 512,
                    suffix_share: float = 0.25) -> Example:
    """`fim_example` on ids already tokenized."""
    budget = max_source_length - 2  # sentinel + eos
    suffix_budget = max(int(budget * suffix_share), budget - len(prefix_ids))
    suffix_ids = _clip_right(suffix_ids, min(suffix_budget, budget))
    prefix_ids = _clip_left(prefix_ids, budget - len(suffix_ids))
    s0, s1 = tok.sentinel_ids[0], tok.sentinel_ids[1]
    target = [] if span_ids is None else list(span_ids) + [s1]
    return Example(prefix_ids + [s0] + suffix_ids + [tok.eos_id], [s0], target)


def decoder_only_example(tok: TokenizerLike, code: str, max_target_length: int = 512) -> Example:
    """Decoder-only causal LM: encoder `[CLM]`, decoder learns the whole code + `</s>`."""
    ids = _clip_right(tok.encode(code), max_target_length - 1)
    return Example([tok.clm_id, tok.eos_id], [], ids + [tok.eos_id])


def causal_prompt(tok: TokenizerLike, left_context: str, max_prefix_length: int = 384) -> Example:
    """Runtime form of decoder-only completion: the left context is the forced decoder prefix."""
    return Example([tok.clm_id, tok.eos_id], _clip_left(tok.encode(left_context), max_prefix_length), [])


def seq2seq_clm_example(tok: TokenizerLike, prefix_ids: list[int], rest_ids: list[int],
                        max_source_length: int = 512, max_target_length: int = 256) -> Example:
    """Seq2seq causal LM: encoder `[CLM] prefix </s>` -> `rest </s>`."""
    enc = [tok.clm_id] + _clip_left(prefix_ids, max_source_length - 2) + [tok.eos_id]
    return Example(enc, [], _clip_right(rest_ids, max_target_length - 1) + [tok.eos_id])


def _bracketed(tok: TokenizerLike, text: str, max_len: int) -> list[int]:
    return [tok.bos_id] + _clip_right(tok.encode(text), max_len - 2) + [tok.eos_id]


def code_to_text_example(tok: TokenizerLike, code: str, text: str | None = None,
                         max_source_length: int = 512, max_target_length: int = 128) -> Example:
    """Code -> text (summaries, docstrings): decoder prefixed with `[TDEC]`."""
    target = [] if text is None else _clip_right(tok.encode(text), max_target_length - 1) + [tok.eos_id]
    return Example(_bracketed(tok, code, max_source_length), [tok.tdec_id], target)


def text_to_code_example(tok: TokenizerLike, text: str, code: str | None = None,
                         max_source_length: int = 256, max_target_length: int = 256) -> Example:
    """Text -> code: decoder prefixed with `[CDEC]`."""
    target = [] if code is None else _clip_right(tok.encode(code), max_target_length - 1) + [tok.eos_id]
    return Example(_bracketed(tok, text, max_source_length), [tok.cdec_id], target)


def embedding_input(tok: TokenizerLike, text: str, max_length: int = 256) -> list[int]:
    """Encoder ids for an embedding: `<s> text </s>`, pooled at position 0."""
    return _bracketed(tok, text, max_length)


def matching_inputs(tok: TokenizerLike, text: str, code: str, max_text_length: int = 128,
                    max_code_length: int = 256) -> tuple[list[int], list[int]]:
    """(encoder ids of the text, decoder ids `[ENC] code </s>`); score the last `</s>` state."""
    enc = _bracketed(tok, text, max_text_length)
    dec = [tok.enc_id] + _clip_right(tok.encode(code), max_code_length - 2) + [tok.eos_id]
    return enc, dec


def instruction_prompt(instruction: str, input_text: str = "") -> str:
    """The one Alpaca-style template (with an optional input block)."""
    if input_text:
        return ALPACA_TEMPLATE_WITH_INPUT.format(instruction=instruction, input=input_text)
    return ALPACA_TEMPLATE.format(instruction=instruction)


def instruction_example(tok: TokenizerLike, instruction: str, response: str | None = None,
                        input_text: str = "", max_source_length: int = 512,
                        max_target_length: int = 256) -> Example:
    """Instruction tuning: loss on the response only (the prompt sits in the encoder)."""
    enc = _bracketed(tok, instruction_prompt(instruction, input_text), max_source_length)
    target = [] if response is None else _clip_right(tok.encode(response), max_target_length - 1) + [tok.eos_id]
    return Example(enc, [], target)


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, left: bool = False) -> tuple[list[list[int]], list[list[int]]]:
    """Pad id lists to one length; returns (ids, attention mask)."""
    width = max((len(s) for s in seqs), default=0)
    ids, mask = [], []
    for s in seqs:
        fill = [pad_id] * (width - len(s))
        ids.append(fill + list(s) if left else list(s) + fill)
        ones, zeros = [1] * len(s), [0] * (width - len(s))
        mask.append(zeros + ones if left else ones + zeros)
    return ids, mask
