"""Hostile deployment packages are refused with InvalidParameterValueException
and a reason, and nothing is created or written."""

import io
import os
import stat
import urllib.request
import zipfile

import pytest

from helpers import ROLE, code_sha256, expect_error, invoke, python_zip, unique_name

HANDLER = python_zip("ok")
HANDLER_SOURCE = zipfile.ZipFile(io.BytesIO(HANDLER)).read("lambda_function.py")


def with_handler(*extra: tuple[zipfile.ZipInfo, bytes]) -> bytes:
    """The echo handler plus hand-made entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(entry("lambda_function.py"), HANDLER_SOURCE)
        for info, data in extra:
            archive.writestr(info, data)
    return buffer.getvalue()


def entry(name: str, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def directory(name: str) -> zipfile.ZipInfo:
    info = entry(name, stat.S_IFDIR | 0o755)
    info.external_attr |= 0x10  # MS-DOS directory bit
    return info


def symlink(name: str, compress_type: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    """A symlink entry; stored, as Info-ZIP's `zip -y` writes short link targets."""
    info = entry(name, stat.S_IFLNK | 0o777)
    info.compress_type = compress_type
    return info


def bomb() -> bytes:
    """16 MiB of zeros: about 16 KiB zipped, a ratio near 1000."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(entry("lambda_function.py"), HANDLER_SOURCE)
        archive.writestr(entry("zeros.bin"), b"\0" * (16 << 20))
    return buffer.getvalue()


HOSTILE = {
    "traversal": with_handler((entry("../evil.py"), b"print('escaped')")),
    "deep-traversal": with_handler((entry("lib/../../../../tmp/evil.py"), b"x")),
    "absolute-path": with_handler((entry("/etc/evil.conf"), b"x")),
    "symlink-out-absolute": with_handler((symlink("passwd"), b"/etc/passwd")),
    "symlink-out-relative": with_handler((symlink("lib/up"), b"../../..")),
    "write-through-symlink": with_handler((symlink("dir"), b"/tmp"), (entry("dir/evil.py"), b"x")),
    "bomb-ratio": bomb(),
    "not-a-zip": b"this is not a zip archive at all, just bytes" * 10,
    "empty": b"",
    "no-entries": b"PK\x05\x06" + b"\0" * 18,
    "truncated": HANDLER[: len(HANDLER) // 2],
}


def code_entries(server) -> set[str]:
    code = server.state_dir / "code"
    return set(os.listdir(code)) if code.exists() else set()


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_zip_is_refused_on_create(server, lam, lam_raw, kind):
    name = unique_name(f"zip-{kind}")
    before = code_entries(server)
    error = expect_error(("InvalidParameterValueException", "ValidationException"), 400, lam_raw.create_function,
                         FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                         Code={"ZipFile": HOSTILE[kind]})
    message = error["Error"]["Message"]
    assert len(message) > 20, message
    if kind not in ("empty",):
        assert "unzip" in message.lower() or "zip" in message.lower(), message
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name)
    assert code_entries(server) == before, "something was written to the code store"
    assert not os.path.exists("/tmp/evil.py")


@pytest.mark.parametrize("kind", ["traversal", "symlink-out-absolute", "bomb-ratio", "not-a-zip"])
def test_hostile_zip_is_refused_on_update(server, lam, functions, kind):
    name = functions.create(zip_file=python_zip("kept"))["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    stored = code_entries(server)
    expect_error("InvalidParameterValueException", 400, lam.update_function_code, FunctionName=name,
                 ZipFile=HOSTILE[kind])
    after = lam.get_function_configuration(FunctionName=name)
    assert (after["CodeSha256"], after["RevisionId"]) == (before["CodeSha256"], before["RevisionId"])
    assert code_entries(server) == stored
    _, payload = invoke(lam, name, {})
    assert payload["marker"] == "kept"


def test_reasons_are_specific(lam):
    def reason(kind):
        return expect_error("InvalidParameterValueException", 400, lam.create_function,
                            FunctionName=unique_name("why"), Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.handler", Code={"ZipFile": HOSTILE[kind]})["Error"]["Message"]
    assert "../evil.py" in reason("traversal")
    assert "/etc/evil.conf" in reason("absolute-path")
    assert "passwd" in reason("symlink-out-absolute") and "link" in reason("symlink-out-absolute").lower()
    assert "expand" in reason("bomb-ratio").lower() or "ratio" in reason("bomb-ratio").lower()
    assert reason("no-entries") == "Uploaded file must be a non-empty zip"


READ_LINK_HANDLER = b"""
def handler(event, context):
    with open("/var/task/" + event["path"]) as f:
        return f.read()
"""


@pytest.mark.parametrize("compress_type", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_benign_package_with_folders_and_inner_symlink_works(lam, functions, compress_type):
    # A deflated link target is valid zip (Info-ZIP deflates a link whose target compresses).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(entry("lambda_function.py"), READ_LINK_HANDLER)
        archive.writestr(directory("lib/"), b"")
        archive.writestr(entry("lib/data.txt"), b"hello from data")
        archive.writestr(symlink("lib/alias.txt", compress_type), b"data.txt")
        archive.writestr(symlink("lib/up.txt", compress_type),
                         b"../lib/././data.txt")
    name = functions.create(zip_file=buffer.getvalue())["FunctionName"]
    _, payload = invoke(lam, name, {"path": "lib/alias.txt"})
    assert payload == "hello from data"
    _, payload = invoke(lam, name, {"path": "lib/up.txt"})
    assert payload == "hello from data"


def test_a_large_package_deploys_runs_and_downloads(lam, functions):
    """A 4 MiB package (its body hashed and decoded off the event loop): created, run, downloaded intact."""
    blob = os.urandom(4 << 20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(entry("lambda_function.py"), READ_LINK_HANDLER)
        archive.writestr("blob.bin", blob)
        archive.writestr(entry("note.txt"), b"a large package")
    package = buffer.getvalue()
    created = functions.create(zip_file=package)
    assert created["CodeSize"] == len(package) and created["CodeSha256"] == code_sha256(package)
    _, payload = invoke(lam, created["FunctionName"], {"path": "note.txt"})
    assert payload == "a large package"
    location = lam.get_function(FunctionName=created["FunctionName"])["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=60) as response:
        assert response.read() == package


def test_oversized_zip_is_413(lam, lam_raw):
    # > 50 MB zipped (incompressible bytes stored as-is).
    name = unique_name("huge")
    blob = os.urandom(52_428_800 + 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(entry("lambda_function.py"), HANDLER_SOURCE)
        archive.writestr("blob.bin", blob)
    expect_error(("RequestEntityTooLargeException", "RequestTooLargeException", "InvalidParameterValueException"),
                 413, lam_raw.create_function, FunctionName=name, Runtime="python3.11", Role=ROLE,
                 Handler="lambda_function.handler", Code={"ZipFile": buffer.getvalue()})
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name)
