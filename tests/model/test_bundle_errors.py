"""Bad bundles fail with a `BundleError` that names the file and the fault (never an ORT trace)."""
from __future__ import annotations

import json
import shutil

import pytest

from model.runtime import BundleError, Runtime
from model.testing import tokenizer_corpus
from model.tokenizer import CodeTokenizer


@pytest.fixture()
def bundle(tiny_bundle, tmp_path):
    dst = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, dst)
    return dst


def _manifest(bundle):
    return json.loads((bundle / "manifest.json").read_text())


def _save(bundle, manifest):
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_missing_bundle_dir(tmp_path):
    with pytest.raises(BundleError, match="bundle directory not found"):
        Runtime.load(tmp_path / "nope")


def test_missing_manifest(bundle):
    (bundle / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"manifest\.json: missing"):
        Runtime.load(bundle)


def test_manifest_not_json(bundle):
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"manifest\.json: not valid JSON"):
        Runtime.load(bundle)


def test_missing_graph(bundle):
    (bundle / "decoder_with_past.int8.onnx").unlink()
    with pytest.raises(BundleError, match=r"decoder_with_past\.int8\.onnx: missing"):
        Runtime.load(bundle)


def test_truncated_graph(bundle):
    path = bundle / "encoder.int8.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(BundleError, match=r"encoder\.int8\.onnx: 1000 bytes but manifest\.json records \d+ "
                                          r"\(truncated"):
        Runtime.load(bundle)


def test_corrupt_graph_same_size(bundle):
    path = bundle / "decoder.onnx"
    data = bytearray(path.read_bytes())
    data[10:2000] = b"\xff" * 1990
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"decoder\.onnx: sha256 does not match"):
        Runtime.load(bundle, precision="fp32")
    # without hash verification the ONNX Runtime failure is still reported as a BundleError
    with pytest.raises(BundleError, match=r"decoder\.onnx: cannot load decoder graph"):
        Runtime.load(bundle, precision="fp32", verify=False)


def test_manifest_io_does_not_match_graph(bundle):
    m = _manifest(bundle)
    m["graphs"]["encoder"]["int8"]["inputs"][0]["name"] = "tokens"
    _save(bundle, m)
    with pytest.raises(BundleError, match=r"encoder\.int8\.onnx: encoder graph inputs .* do not match"):
        Runtime.load(bundle)


def test_manifest_graph_swapped(bundle):
    m = _manifest(bundle)
    m["graphs"]["encoder"]["int8"] = dict(m["graphs"]["matching"]["int8"])
    _save(bundle, m)
    with pytest.raises(BundleError, match=r"matching\.int8\.onnx: not usable as the encoder graph \(lacks"):
        Runtime.load(bundle)


def test_manifest_lacks_decoder(bundle):
    m = _manifest(bundle)
    del m["graphs"]["decoder_with_past"]
    _save(bundle, m)
    with pytest.raises(BundleError, match="lacks decoder"):
        Runtime.load(bundle)


def test_manifest_wrong_version_and_config(bundle):
    m = _manifest(bundle)
    _save(bundle, {**m, "format_version": 99})
    with pytest.raises(BundleError, match="format_version 99 is not supported"):
        Runtime.load(bundle)
    _save(bundle, {**m, "config": {**m["config"], "d_model": "x", "bogus": 1}})
    with pytest.raises(BundleError, match=r"manifest\.json: bad 'config'"):
        Runtime.load(bundle)


def test_manifest_vocab_does_not_match_graph(bundle):
    m = _manifest(bundle)
    m["config"]["vocab_size"] += 7
    _save(bundle, m)
    with pytest.raises(BundleError, match="logits"):
        Runtime.load(bundle)


def test_unsafe_file_name(bundle):
    m = _manifest(bundle)
    m["graphs"]["encoder"]["int8"]["file"] = "../encoder.onnx"
    _save(bundle, m)
    with pytest.raises(BundleError, match="unsafe path"):
        Runtime.load(bundle)


def test_missing_precision(bundle):
    m = _manifest(bundle)
    for entry in m["graphs"].values():
        del entry["int8"]
    _save(bundle, m)
    with pytest.raises(BundleError, match="no int8 graphs"):
        Runtime.load(bundle, precision="int8")
    assert Runtime.load(bundle).precision == "fp32"  # auto falls back


def test_tokenizer_wrong_size(bundle):
    other = CodeTokenizer.train(tokenizer_corpus(), vocab_size=400)
    other.save(bundle)
    with pytest.raises(BundleError, match=r"tokenizer\.json: tokenizer has \d+ tokens but manifest\.json expects"):
        Runtime.load(bundle)
    # even when the manifest is rewritten to the new file's hash and size, the model's size decides
    from model.runtime.bundle import file_record

    m = _manifest(bundle)
    m["tokenizer"].update(file_record(bundle / "tokenizer.json"))
    m["tokenizer"]["vocab_size"] = other.vocab_size
    m["config"]["vocab_size"] = other.vocab_size - 1
    _save(bundle, m)
    with pytest.raises(BundleError, match="tokenizer\\.json: tokenizer has"):
        Runtime.load(bundle)


def test_tokenizer_modified(bundle):
    path = bundle / "tokenizer.json"
    path.write_text(path.read_text().replace('"<mask>"', '"<MASK>"', 1))
    with pytest.raises(BundleError, match=r"tokenizer\.json"):
        Runtime.load(bundle)


def test_bad_device_and_precision(bundle):
    with pytest.raises(ValueError, match="precision"):
        Runtime.load(bundle, precision="fp8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device"):
        Runtime.load(bundle, device="tpu")  # type: ignore[arg-type]


def test_cuda_requested_without_provider(bundle):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    with pytest.raises(ValueError, match="CUDAExecutionProvider"):
        Runtime.load(bundle, device="cuda")
    assert Runtime.load(bundle, device="auto", threads=1).providers == ["CPUExecutionProvider"]
