"""The Terraform and the code agree: every function crate has a Lambda, and every variable the
code marks `Required` for a function is set in that function's Lambda environment.

Reads `terraform/*.tf` with python-hcl2 and `shared/src/config/variables.rs` (the
`var("NAME", USED_BY, InCloud, "...")` table) as text. Run with `scripts/check-terraform.sh`,
which installs python-hcl2 and pytest into their own virtualenv.

The Terraform expressions this test understands are the ones the configuration uses for a
function's environment: literal maps, `local.NAME`, `local.NAME[each.key]` and `merge(...)` of
those. Anything else fails with a message asking to extend `resolve` below, never silently.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
VARIABLES_RS = ROOT / "shared" / "src" / "config" / "variables.rs"
FUNCTIONS = ROOT / "functions"

FUNCTION_VARIANTS = {
    "Collector": "collector",
    "Planner": "planner",
    "Writer": "writer",
    "Detector": "detector",
    "Api": "api",
    "Migrator": "migrator",
    "Notifier": "notifier",
}


# ------------------------------------------------------------------------------------------
# The code's side: variables.rs
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    name: str
    used_by: frozenset[str]
    in_cloud: str  # Required, Optional or LocalOnly


def _function_list(text: str, consts: dict[str, frozenset[str]]) -> frozenset[str]:
    """`ALL`, `&[Collector, Api]`, `&[Function::Detector]` or another named const."""
    text = text.strip()
    if text in consts:
        return consts[text]
    match = re.fullmatch(r"&\s*\[(.*)\]", text, re.S)
    if not match:
        raise ValueError(f"cannot read the function list {text!r} in variables.rs")
    names = set()
    for item in filter(None, (part.strip() for part in match.group(1).split(","))):
        variant = item.rsplit("::", 1)[-1]
        if variant not in FUNCTION_VARIANTS:
            raise ValueError(f"unknown function {item!r} in variables.rs")
        names.add(FUNCTION_VARIANTS[variant])
    return frozenset(names)


def parse_variables(source: str) -> dict[str, Variable]:
    """Every `var(...)` entry of the table, with its function list resolved."""
    # Drop comments so a commented-out entry does not count.
    source = re.sub(r"//[^\n]*", "", source)
    consts: dict[str, frozenset[str]] = {}
    for match in re.finditer(r"const\s+([A-Z][A-Z0-9_]*)\s*:\s*&\[Function\]\s*=\s*(&\s*\[[^\]]*\])\s*;", source):
        consts[match.group(1)] = _function_list(match.group(2), consts)
    variables = {}
    pattern = re.compile(
        r"\bvar\(\s*\"([A-Z0-9_]+)\"\s*,\s*(&\s*\[[^\]]*\]|[A-Z][A-Z0-9_]*)\s*,\s*"
        r"(?:InCloud::)?(Required|Optional|LocalOnly)\s*,",
        re.S,
    )
    for match in pattern.finditer(source):
        name = match.group(1)
        if name in variables:
            raise ValueError(f"{name} is listed twice in variables.rs")
        variables[name] = Variable(name, _function_list(match.group(2), consts), match.group(3))
    return variables


# ------------------------------------------------------------------------------------------
# The Terraform side
# ------------------------------------------------------------------------------------------


class Unresolvable(Exception):
    """An expression this test does not evaluate."""


def unquote(value):
    """python-hcl2 keeps the quotes of string literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def clean(value):
    """Strips hcl2's bookkeeping keys and literal quotes, recursively."""
    if isinstance(value, dict):
        return {unquote(k): clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return unquote(value)


@dataclass
class Terraform:
    locals: dict
    resources: dict[str, dict[str, dict]]  # type -> name -> body


def load_terraform(directory: Path) -> Terraform:
    local_values: dict = {}
    resources: dict[str, dict[str, dict]] = {}
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise FileNotFoundError(f"no .tf files in {directory}")
    for path in files:
        with path.open() as handle:
            document = clean(hcl2.load(handle))
        for block in document.get("locals", []):
            for key, value in block.items():
                if key in local_values:
                    raise ValueError(f"local.{key} is defined twice ({path.name})")
                local_values[key] = value
        for block in document.get("resource", []):
            for rtype, named in block.items():
                for rname, body in named.items():
                    resources.setdefault(rtype, {})[rname] = body
    return Terraform(local_values, resources)


def _split_arguments(text: str) -> list[str]:
    """Splits `a, {b = 1, c = 2}, f(x, y)` at the top-level commas."""
    parts, depth, current, quoted = [], 0, [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def resolve(value, tf: Terraform, key: str | None):
    """Evaluates the few expression forms a function's environment is written with.
    `key` is the function (`each.key`) for a `for_each` resource."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise Unresolvable(repr(value))
    expression = value.strip()
    if expression.startswith("${") and expression.endswith("}"):
        expression = expression[2:-1].strip()
    match = re.fullmatch(r"merge\((.*)\)", expression, re.S)
    if match:
        merged: dict = {}
        for argument in _split_arguments(match.group(1)):
            merged.update(resolve(argument, tf, key))
        return merged
    match = re.fullmatch(r"local\.([A-Za-z0-9_]+)(\[each\.key\])?", expression)
    if match:
        name, indexed = match.groups()
        if name not in tf.locals:
            raise Unresolvable(f"local.{name} is not defined")
        resolved = resolve(tf.locals[name], tf, key)
        if indexed:
            if key is None:
                raise Unresolvable(f"{expression} outside a for_each resource")
            if key not in resolved:
                raise Unresolvable(f"local.{name} has no entry for {key!r}")
            resolved = resolve(resolved[key], tf, key)
        return resolved
    if expression.startswith("{"):
        return clean(hcl2.loads(f"value = {expression}\n"))["value"]
    raise Unresolvable(expression)


def resolve_keys(value, tf: Terraform) -> list[str]:
    """The keys of a `for_each`: a set/list of strings or a map."""
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    expression = str(value).strip()
    if expression.startswith("${") and expression.endswith("}"):
        expression = expression[2:-1].strip()
    match = re.fullmatch(r"local\.([A-Za-z0-9_]+)", expression)
    if match and match.group(1) in tf.locals:
        return resolve_keys(tf.locals[match.group(1)], tf)
    match = re.fullmatch(r"(?:toset\()?\[(.*)\]\)?", expression, re.S)
    if match:
        return [unquote(part) for part in _split_arguments(match.group(1))]
    raise Unresolvable(f"for_each = {expression}")


@dataclass
class Lambda:
    function: str  # the crate it runs
    address: str
    body: dict
    environment: dict


def lambdas(tf: Terraform) -> list[Lambda]:
    """Every aws_lambda_function, one entry per function it creates."""
    found = []
    for rname, body in tf.resources.get("aws_lambda_function", {}).items():
        keys = resolve_keys(body["for_each"], tf) if "for_each" in body else [None]
        for key in keys:
            environment_blocks = body.get("environment", [])
            variables = environment_blocks[0].get("variables", {}) if environment_blocks else {}
            environment = resolve(variables, tf, key)
            if key is None:
                # A single resource runs the crate its zip is built from.
                match = re.search(r"/([A-Za-z0-9_-]+)/bootstrap\.zip", str(body.get("filename", "")))
                function = match.group(1) if match else rname
                address = f"aws_lambda_function.{rname}"
            else:
                function = key
                address = f'aws_lambda_function.{rname}["{key}"]'
            found.append(Lambda(function, address, body, environment))
    return found


def function_crates(directory: Path) -> list[str]:
    crates = []
    for manifest in sorted(directory.glob("*/Cargo.toml")):
        with manifest.open("rb") as handle:
            crates.append(tomllib.load(handle)["package"]["name"])
    return crates


# ------------------------------------------------------------------------------------------
# The checks, as functions returning problems, so the tests below can also prove they fail
# ------------------------------------------------------------------------------------------


def problems(tf: Terraform, variables: dict[str, Variable], crates: list[str]) -> list[str]:
    found = []
    deployed = {}
    for fn in lambdas(tf):
        if fn.function in deployed:
            found.append(f"{fn.address}: a second Lambda for {fn.function}")
        deployed[fn.function] = fn
    for crate in crates:
        if crate not in deployed:
            found.append(f"functions/{crate} has no aws_lambda_function in terraform/")
    for name, fn in deployed.items():
        if name not in crates:
            found.append(f"{fn.address} runs {name!r}, which is no crate under functions/")
        for variable in variables.values():
            if name not in variable.used_by:
                continue
            if variable.in_cloud == "Required" and variable.name not in fn.environment:
                found.append(f"{fn.address}: {variable.name} is Required for {name} but not in its environment")
            if variable.in_cloud == "LocalOnly" and variable.name in fn.environment:
                found.append(f"{fn.address}: {variable.name} is LocalOnly but set in the cloud")
        for key in fn.environment:
            if key not in variables:
                found.append(f"{fn.address}: {key} is set but variables.rs does not list it")
            elif name not in variables[key].used_by:
                found.append(f"{fn.address}: {key} is set but {name} does not read it")
            if re.search(r"PASSWORD|SECRET(?!_ARN)", key):
                found.append(f"{fn.address}: {key} looks like a credential in the environment")
    return found


# ------------------------------------------------------------------------------------------
# Tests over the real configuration
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf() -> Terraform:
    return load_terraform(TERRAFORM)


@pytest.fixture(scope="module")
def variables() -> dict[str, Variable]:
    return parse_variables(VARIABLES_RS.read_text())


def test_every_function_crate_has_a_lambda_with_every_required_variable(tf, variables):
    crates = function_crates(FUNCTIONS)
    assert crates, "no crates under functions/"
    assert problems(tf, variables, crates) == []


def test_the_variables_table_is_read_in_full(variables):
    # Every var( call in the file is understood: none is skipped by the pattern.
    source = re.sub(r"//[^\n]*", "", VARIABLES_RS.read_text())
    calls = re.findall(r"\bvar\(\s*\"", source)
    assert len(calls) == len(variables)
    assert variables["DB_HOST"].used_by == {"planner", "writer", "detector", "api", "migrator"}
    assert variables["DB_HOST"].in_cloud == "Required"


def test_every_lambda_runs_the_cargo_lambda_zip_on_al2023(tf):
    for fn in lambdas(tf):
        body = fn.body
        assert body["runtime"] == "provided.al2023", fn.address
        assert body["handler"] == "bootstrap", fn.address
        assert str(body["filename"]).endswith("/bootstrap.zip"), fn.address
        assert "filebase64sha256" in str(body["source_code_hash"]), fn.address
        assert body["architectures"] == ["${var.lambda_architecture}"], fn.address


def test_only_the_collector_and_the_notifier_are_outside_the_vpc_and_only_the_migrator_may_leave_it(tf):
    # vpc_config is a dynamic block over local.vpc_functions: the collector and the notifier
    # (which holds no database settings) are not in it.
    body = tf.resources["aws_lambda_function"]["function"]
    dynamic = body["dynamic"][0]["vpc_config"] if isinstance(body["dynamic"], list) else body["dynamic"]["vpc_config"]
    text = str(dynamic)
    assert "local.vpc_functions" in text
    assert 'ipv6_allowed_for_dual_stack' in text and 'each.key == "migrator"' in text
    assert 'setsubtract(local.functions, ["collector", "notifier"])' in str(tf.locals["vpc_functions"])
    # No NAT gateway, no public subnet, no internet gateway: the VPC has no IPv4 way out.
    for rtype in ("aws_nat_gateway", "aws_internet_gateway", "aws_eip"):
        assert rtype not in tf.resources, rtype
    assert "aws_egress_only_internet_gateway" in tf.resources


def test_functions_verify_the_database_certificate_and_log_in_as_their_own_role(tf):
    users = tf.locals["db_users"]
    for fn in lambdas(tf):
        env = fn.environment
        assert env["LOG_FORMAT"] == "json", fn.address
        if fn.function == "collector":
            assert env["METRICS_SINK"] == "cloudwatch", fn.address
            assert not any(k.startswith("DB_") for k in env), f"{fn.address} holds database settings"
            continue
        if fn.function == "notifier":
            assert not any(k.startswith("DB_") or k.startswith("METRICS_") for k in env), fn.address
            assert {"EVENT_BUS_NAME", "ALERT_TOPIC_ARN"} <= set(env), fn.address
            continue
        assert env["METRICS_SINK"] == "emf", fn.address
        assert env["DB_TLS"] == "verify-full", fn.address
        assert env["DB_TLS_CA_FILE"].startswith("/var/task/"), fn.address
        assert env["DB_MIGRATE"] == "false", fn.address
        if fn.function == "migrator":
            assert "master_user_secret" in env["DB_SECRET_ARN"], fn.address
        else:
            assert env["DB_IAM_AUTH"] == "true", fn.address
            assert env["DB_USER"] in (users[fn.function], f"${{local.db_users.{fn.function}}}"), fn.address
            assert "DB_SECRET_ARN" not in env, fn.address


def test_scheduled_functions_have_reserved_concurrency_and_a_dead_letter_queue(tf):
    settings = tf.locals["function_settings"]
    assert set(settings) >= {"collector", "detector"}
    scheduled = tf.locals["scheduled_functions"]
    assert set(scheduled) == {"collector", "detector"}
    for fn in lambdas(tf):
        assert "reserved_concurrency" in str(fn.body.get("reserved_concurrent_executions")), fn.address
    mapping = tf.resources["aws_lambda_event_source_mapping"]["candles"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert "deadLetterTargetArn" in str(tf.resources["aws_sqs_queue"]["candles"]["redrive_policy"])
    target = tf.resources["aws_cloudwatch_event_target"]["schedule"]
    assert target["retry_policy"] and target["dead_letter_config"]


def test_every_variable_has_a_description_and_a_type_and_every_output_a_description():
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            document = clean(hcl2.load(handle))
        for block in document.get("variable", []):
            for name, body in block.items():
                assert body.get("description"), f"variable {name} ({path.name}) has no description"
                assert body.get("type"), f"variable {name} ({path.name}) has no type"
        for block in document.get("output", []):
            for name, body in block.items():
                assert body.get("description"), f"output {name} ({path.name}) has no description"


def test_the_example_tfvars_sets_only_declared_variables():
    declared = set()
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            for block in clean(hcl2.load(handle)).get("variable", []):
                declared.update(block)
    with (TERRAFORM / "terraform.tfvars.example").open() as handle:
        example = clean(hcl2.load(handle))
    assert example, "the example sets nothing"
    assert set(example) <= declared, set(example) - declared


# ------------------------------------------------------------------------------------------
# The checker itself fails when it should
# ------------------------------------------------------------------------------------------

SAMPLE_RS = """
const ALL: &[Function] = &[Collector, Detector, Api];
const WORKERS: &[Function] = &[Function::Collector, Detector];
pub const VARIABLES: &[Variable] = &[
    var("DB_HOST", ALL, Required, "host"),
    var(
        "SOURCE_KEY_ARN",
        &[Collector],
        InCloud::Required,
        "a key, in a multi-line entry",
    ),
    var("BATCH", WORKERS, Optional, "batch size"),
    var("DATABASE_URL", ALL, LocalOnly, "local runs"),
    // var("OLD", ALL, Required, "commented out"),
];
"""

SAMPLE_TF = """
locals {
  functions = toset(["collector", "api"])
  common = {
    DB_HOST = "db.internal"
  }
  extra = {
    collector = {
      SOURCE_KEY_ARN = "arn:aws:secretsmanager:eu-west-1:1:secret:k"
    }
    api = {}
  }
}

resource "aws_lambda_function" "f" {
  for_each = local.functions
  environment {
    variables = merge(local.common, local.extra[each.key])
  }
}
"""


def write_sample(tmp_path: Path, tf_text: str) -> Terraform:
    (tmp_path / "main.tf").write_text(tf_text)
    return load_terraform(tmp_path)


def test_the_sample_table_is_parsed_with_lists_consts_and_multi_line_entries():
    variables = parse_variables(SAMPLE_RS)
    assert set(variables) == {"DB_HOST", "SOURCE_KEY_ARN", "BATCH", "DATABASE_URL"}
    assert variables["SOURCE_KEY_ARN"].used_by == {"collector"}
    assert variables["SOURCE_KEY_ARN"].in_cloud == "Required"
    assert variables["BATCH"].used_by == {"collector", "detector"}


def test_a_complete_sample_has_no_problems(tmp_path):
    tf = write_sample(tmp_path, SAMPLE_TF)
    assert problems(tf, parse_variables(SAMPLE_RS), ["collector", "api"]) == []


def test_a_required_variable_missing_from_one_function_is_reported(tmp_path):
    tf = write_sample(tmp_path, SAMPLE_TF.replace('SOURCE_KEY_ARN = "arn', 'OTHER_ARN = "arn'))
    found = problems(tf, parse_variables(SAMPLE_RS), ["collector", "api"])
    assert any("SOURCE_KEY_ARN is Required for collector" in p for p in found), found
    assert any("OTHER_ARN is set but variables.rs does not list it" in p for p in found), found


def test_a_function_crate_without_a_lambda_is_reported(tmp_path):
    tf = write_sample(tmp_path, SAMPLE_TF)
    found = problems(tf, parse_variables(SAMPLE_RS), ["collector", "api", "detector"])
    assert found == ["functions/detector has no aws_lambda_function in terraform/"]


def test_a_local_only_variable_set_in_the_cloud_is_reported(tmp_path):
    tf = write_sample(
        tmp_path, SAMPLE_TF.replace('DB_HOST = "db.internal"', 'DB_HOST = "db"\n    DATABASE_URL = "postgres://x"')
    )
    found = problems(tf, parse_variables(SAMPLE_RS), ["collector", "api"])
    assert any("DATABASE_URL is LocalOnly" in p for p in found), found


def test_an_expression_the_checker_cannot_read_fails_loudly(tmp_path):
    tf = write_sample(tmp_path, SAMPLE_TF.replace("merge(local.common, local.extra[each.key])", "var.env"))
    with pytest.raises(Unresolvable):
        problems(tf, parse_variables(SAMPLE_RS), ["collector", "api"])


def test_a_single_lambda_resource_is_matched_by_its_zip(tmp_path):
    tf = write_sample(
        tmp_path,
        """
resource "aws_lambda_function" "worker" {
  filename = "../target/lambda/detector/bootstrap.zip"
  environment {
    variables = { DB_HOST = "h" }
  }
}
""",
    )
    found = problems(tf, parse_variables(SAMPLE_RS), ["detector"])
    assert found == []


# ------------------------------------------------------------------------------------------
# Metrics: the alarms and the dashboard read custom metrics only through local.custom_metrics
# (which the Rust test `metrics_the_terraform_reads_are_emitted` checks against the code)
# ------------------------------------------------------------------------------------------


def test_custom_metrics_are_read_only_through_the_one_map():
    text = (TERRAFORM / "monitoring.tf").read_text()
    assert not re.search(r'\[\s*local\.ns\s*,\s*"', text), "a custom metric written out instead of local.custom_metric[...]"
    assert "SEARCH(" not in text, "a SEARCH expression can name any dimension set"
    tf = load_terraform(TERRAFORM)
    names = set(tf.locals["custom_metrics"])
    for ref in re.findall(r'local\.custom_metrics?\["([A-Za-z]+)"\]', text):
        assert ref in names, ref
    alarms = tf.resources["aws_cloudwatch_metric_alarm"]
    for name, body in alarms.items():
        if body.get("namespace") == "${local.ns}":
            assert body["dimensions"] == f'${{local.custom_metrics["{body["metric_name"]}"]}}', name


# ------------------------------------------------------------------------------------------
# Cost: every billable resource type in terraform/ is priced in the README's cost table
# ------------------------------------------------------------------------------------------

# Resource types that cost money by existing or by use. A type here must appear in the
# README's cost table, written as `type`.
BILLABLE = {
    "aws_db_instance", "aws_db_proxy", "aws_kms_key", "aws_secretsmanager_secret",
    "aws_cloudwatch_metric_alarm", "aws_cloudwatch_dashboard", "aws_cloudwatch_log_group",
    "aws_lambda_function", "aws_apigatewayv2_api", "aws_sqs_queue", "aws_vpc_endpoint",
    "aws_nat_gateway", "aws_eip", "aws_flow_log", "aws_sns_topic", "aws_budgets_budget",
    "aws_egress_only_internet_gateway", "aws_cloudwatch_event_bus",
}
# Types that cost nothing themselves (configuration of something priced above).
FREE = {
    "aws_vpc", "aws_default_security_group", "aws_subnet", "aws_route_table", "aws_route",
    "aws_route_table_association", "aws_security_group", "aws_vpc_security_group_egress_rule",
    "aws_vpc_security_group_ingress_rule", "aws_db_subnet_group", "aws_db_parameter_group",
    "aws_db_proxy_default_target_group", "aws_db_proxy_target", "aws_iam_role",
    "aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_kms_alias",
    "aws_secretsmanager_secret_version", "aws_lambda_permission", "aws_lambda_invocation",
    "aws_lambda_event_source_mapping", "aws_lambda_function_event_invoke_config",
    "aws_cloudwatch_event_rule", "aws_cloudwatch_event_target", "aws_sqs_queue_policy",
    "aws_sns_topic_subscription", "aws_sns_topic_policy", "aws_apigatewayv2_integration",
    "aws_apigatewayv2_route", "aws_apigatewayv2_stage", "aws_apigatewayv2_authorizer",
}


def cost_table_types(readme: str) -> set[str]:
    section = readme.split("### What it costs", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"`(aws_[a-z0-9_]+)`", section))


def cost_problems(types: set[str], priced: set[str]) -> list[str]:
    found = []
    for rtype in sorted(types):
        if rtype in BILLABLE:
            if rtype not in priced:
                found.append(f"{rtype} is billable but the README's cost table does not list it")
        elif rtype not in FREE:
            found.append(f"{rtype} is neither in BILLABLE nor FREE (tests/terraform): is it billable?")
    return found


def test_every_billable_resource_type_is_in_the_cost_table(tf):
    types = set(tf.resources)
    priced = cost_table_types((ROOT / "README.md").read_text())
    assert cost_problems(types, priced) == []


def test_a_billable_type_missing_from_the_table_or_an_unknown_type_is_reported():
    found = cost_problems({"aws_nat_gateway", "aws_vpc", "aws_shiny_new_thing"}, {"aws_kms_key"})
    assert found == [
        "aws_nat_gateway is billable but the README's cost table does not list it",
        "aws_shiny_new_thing is neither in BILLABLE nor FREE (tests/terraform): is it billable?",
    ]
