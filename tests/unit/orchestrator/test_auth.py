"""API key files and open mode."""

from __future__ import annotations

import json

import pytest

from orchestrator.auth import OPEN_MODE_TENANT, ApiKeys
from relaytts.errors import InvalidArgument, Unauthenticated


def test_open_mode_is_one_tenant_without_a_key():
    keys = ApiKeys.load("")
    assert keys.open_mode and keys.tenant_for(()) == OPEN_MODE_TENANT == "local"


def test_bearer_keys_map_to_tenants(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"k-alice": "alice", "k-bob": "bob"}))
    path.chmod(0o600)  # the gateway refuses a key file every user can read
    keys = ApiKeys.load(path)
    assert not keys.open_mode
    assert keys.tenant_for((("authorization", "Bearer k-alice"),)) == "alice"
    assert keys.tenant_for((("x-other", "1"), ("authorization", "bearer  k-bob "))) == "bob"
    assert "k-alice" not in repr(keys)  # only digests are held


@pytest.mark.parametrize(("metadata", "message"), [
    ((), "missing `authorization: Bearer <key>` metadata"),
    ((("authorization", "k-alice"),), "must be `Bearer <key>`"),
    ((("authorization", "Basic k-alice"),), "must be `Bearer <key>`"),
    ((("authorization", "Bearer "),), "must be `Bearer <key>`"),
    ((("authorization", "Bearer k-carol"),), "unknown API key"),
])
def test_missing_or_unknown_keys_are_unauthenticated(metadata, message):
    keys = ApiKeys.from_mapping({"k-alice": "alice"})
    with pytest.raises(Unauthenticated, match=message) as caught:
        keys.tenant_for(metadata)
    assert caught.value.code == "UNAUTHENTICATED" and caught.value.reason == "unauthenticated"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('["k"]', "must be a JSON object"),
    ("{}", "holds no keys"),
    ('{"k": ""}', "tenant must be 1-64 characters"),
    ('{"k": "a b"}', "tenant must be 1-64 characters"),
    ('{" k": "a"}', "keys must be non-empty strings"),
])
def test_bad_key_files_fail_at_start_naming_the_file(tmp_path, content, message):
    path = tmp_path / "keys.json"
    path.write_text(content)
    path.chmod(0o600)  # the gateway refuses a key file every user can read
    with pytest.raises(InvalidArgument, match=message) as caught:
        ApiKeys.load(path)
    assert str(path) in str(caught.value)


def test_a_missing_key_file_is_an_error_not_open_mode(tmp_path):
    with pytest.raises(InvalidArgument, match="cannot read the API key file"):
        ApiKeys.load(tmp_path / "absent.json")


def test_entries_may_name_a_tenant_and_its_quota_overrides(tmp_path):
    keys = ApiKeys.from_mapping({"k1": {"tenant": "alice", "max_streams": 4}, "k2": "alice", "k3": "bob"})
    assert keys.tenant_for((("authorization", "Bearer k1"),)) == "alice"
    assert keys.limits_for("alice").max_streams == 4 and keys.limits_for("bob").max_streams is None
    assert keys.tenant_names == {"alice", "bob"}


@pytest.mark.parametrize(("entry", "message"), [
    ({"tenant": "a", "max_stream": 1}, "unknown key entry field"),
    ({"tenant": "a", "max_streams": -1}, "must be an integer >= 0"),
    ({"max_streams": 1}, "tenant must be 1-64 characters"),
])
def test_bad_entries_are_refused(entry, message):
    with pytest.raises(InvalidArgument, match=message):
        ApiKeys.from_mapping({"k": entry})


def test_a_world_readable_key_file_is_refused(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"k": "a"}))
    path.chmod(0o644)
    with pytest.raises(InvalidArgument, match=r"readable or writable by every user \(mode 0644\)"):
        ApiKeys.load(path)
    path.chmod(0o640)  # a group (the gateway's) may read it
    assert ApiKeys.load(path).tenant_names == {"a"}
