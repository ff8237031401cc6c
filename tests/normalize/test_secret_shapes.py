"""One list of credential shapes: the normalizer, the outbound scrubber and the pull-request guard
all know every shape in it, in the text around it as errors carry it."""

from __future__ import annotations

import pytest

from skillsmith_assets.normalize.message import normalize_error_message
from skillsmith_assets.github.pr_body import credential_kinds
from skillsmith_assets.secrets import SECRET_SHAPES, scrub_secrets

CONTEXTS = ("{}", "auth failed for {} (401)", "token={}", "'{}'", "key:{}.", "Bearer header was {}\nretry")


@pytest.mark.parametrize("shape", SECRET_SHAPES, ids=lambda shape: shape.name)
@pytest.mark.parametrize("context", CONTEXTS)
def test_every_shape_is_hidden_everywhere(shape, context):
    text = context.format(shape.example)
    assert shape.example not in normalize_error_message(text)
    assert shape.example not in scrub_secrets(text)
    assert shape.name in credential_kinds(text)


def test_the_sql_normalizer_hides_every_shape(conn):
    from conftest import sql_normalized

    messages = [context.format(shape.example) for shape in SECRET_SHAPES for context in CONTEXTS]
    for (norm, _, _), message in zip(sql_normalized(conn, messages, "c"), messages):
        assert norm == normalize_error_message(message)
        assert not any(shape.example in norm for shape in SECRET_SHAPES)


PRIVATE_KEY_BODY = "MIIEowIBAAKCAQEA7"


@pytest.mark.parametrize("begin, end", [
    ("-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----"),
    ("-----BEGIN\tRSA PRIVATE KEY-----", "-----END RSA  PRIVATE\tKEY-----"),
    ("-----BEGIN  OPENSSH PRIVATE   KEY-----", ""),  # cut before its end line
])
def test_a_private_key_is_hidden_whatever_its_spacing(begin, end):
    text = f"key: {begin}\n{PRIVATE_KEY_BODY}\n{end}"
    assert PRIVATE_KEY_BODY not in normalize_error_message(text)
    assert PRIVATE_KEY_BODY not in scrub_secrets(text)
    assert "a private key" in credential_kinds(text)
