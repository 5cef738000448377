#!/usr/bin/env python3
"""Reference RDS IAM token for shared/src/db/iam.rs (tests/reference/rds_iam_token.txt).

Signed by botocore's own `generate_db_auth_token` (an independent SigV4 implementation) with
the test's fixed credentials, endpoint, user and clock, so the Rust test checks the whole
canonical request and signature, not a round trip through the same code.
Run: python3 scripts/reference/rds_iam_token.py > tests/reference/rds_iam_token.txt
"""
import datetime
from unittest import mock

import botocore.auth
import botocore.session

NOW = datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)

session = botocore.session.get_session()
client = session.create_client(
    "rds",
    region_name="eu-west-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    aws_session_token="FwoGZXIvYXdzEXAMPLE/token+with=padding",
)
with mock.patch.object(botocore.auth, "get_current_datetime", return_value=NOW):
    token = client.generate_db_auth_token(
        DBHostname="db.example.internal", Port=5432, DBUsername="tickwatch_detector"
    )
print(token)
