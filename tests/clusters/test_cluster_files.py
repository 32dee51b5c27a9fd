"""The cluster launcher files: valid for the installed Ray's own launcher, and secure by default."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[2]
FILES = ["cluster.yaml", "cluster-local.yaml"]


def prepared(config: dict) -> dict:
    """What `ray up` checks before it starts anything: Ray's defaults merged in, then Ray's schema."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(config)
    validate_config(config)
    return config


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", FILES)
def test_ray_s_launcher_accepts_the_cluster_file(name):
    config = prepared(load(name))
    sources = {local for remote, local in config["file_mounts"].items() if remote.startswith("~/latent-sweeps/")}
    assert sources == {"pyproject.toml", "README.md", "sweeps", "trainables", "analysis"}  # the project's sources
    assert all((ROOT / source).exists() for source in sources)  # (paths from the project's root) go to every node,
    assert any("pip install" in c and "-e ~/latent-sweeps" in c for c in config["setup_commands"])  # installed
    for command in config["setup_commands"] + config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        shlex.split(command)  # whole shell lines: in YAML, " #" starts a comment and can cut one short
    broken = load(name) | {"max_worker": 3}  # and the check is real: a misspelt field fails it
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        prepared(broken)


def test_the_aws_cluster_has_a_cpu_head_and_autoscaling_spot_cpu_and_gpu_workers():
    config = prepared(load("cluster.yaml"))
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}  # the driver only, no trials
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert {t["node_config"]["InstanceType"][0] for t in workers} == {"c", "g"}  # CPU and GPU instances
    for worker in workers:
        assert worker["min_workers"] == 0 < worker["max_workers"]
        assert worker["node_config"]["InstanceMarketOptions"] == {"MarketType": "spot"}
        assert "IamInstanceProfile" in worker["node_config"]  # S3 through an instance role, no keys in files


@pytest.mark.parametrize("name", FILES)
def test_the_cluster_is_secure_by_default(name):
    config = prepared(load(name))  # with Ray's defaults, which bind the dashboard to 0.0.0.0 on AWS
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 2 and all("RAY_AUTH_MODE=token" in c for c in starts)
    head = next(c for c in config["head_start_ray_commands"] if "ray start" in c)
    assert "--dashboard-host=127.0.0.1" in head and "0.0.0.0" not in head
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"  # the user's token, not the repo's
    assert not config["provider"].get("security_group", {}).get("IpPermissions")  # no ports opened
    assert "ssh_private_key" not in config["auth"] or config["auth"]["ssh_private_key"].startswith("~/.ssh/")


def test_the_aws_cluster_grants_least_privilege():
    """Ray's own AWS bootstrap steps, which call AWS only where the file leaves a choice to them: here none."""
    from ray.autoscaler._private.aws.config import _configure_iam_role, _configure_security_group

    config = prepared(load("cluster.yaml"))
    types = config["available_node_types"]
    head = types[config["head_node_type"]]["node_config"]
    assert _configure_iam_role(config) is config  # the head's own profile: no ray-autoscaler-v1 with full EC2/S3
    assert head["IamInstanceProfile"] == {"Name": "latent-sweeps-head"}
    assert _configure_security_group(config) is config  # the project's own group: no SSH from the world
    for node_type in types.values():
        node = node_type["node_config"]
        assert node["SecurityGroupIds"] == ["sg-SET-ME"]  # EC2 refuses this id until the user sets theirs
        assert node["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2 only
        assert all(disk["Ebs"]["Encrypted"] for disk in node["BlockDeviceMappings"])
    head_policy = json.loads((ROOT / "aws/head-policy.json").read_text())
    for statement in head_policy["Statement"]:  # no blanket EC2, IAM or S3 rights
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith(":*") or a == "*" for a in actions)
        if any(a in ("ec2:TerminateInstances", "ec2:RunInstances") for a in actions) and statement["Resource"] == "*":
            assert "ray-cluster-name" in json.dumps(statement["Condition"])  # only this cluster's nodes
    worker = json.loads((ROOT / "aws/worker-policy.json").read_text())
    assert {a for s in worker["Statement"] for a in s["Action"]} <= {"s3:GetObject", "s3:PutObject",
                                                                    "s3:DeleteObject", "s3:ListBucket"}


# Written so that they do not match themselves.
EXPOSED = re.compile(r"dashboard[-_]host\W{1,3}0\.0\.0\.0|0\.0\.0\.0/0|:[:]/0")  # on every interface, or to the world
SECRET = re.compile(r"AKIA[0-9A-Z]{16}|aws_secret_access_ke[y]|RAY_AUTH_TOKEN=[\"']?\w|token\S*\W+[0-9a-f]{32}", re.I)


def test_no_file_in_the_repo_exposes_ray_s_ports_or_holds_a_token_or_key():
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    assert "cluster.yaml" in files
    problems = []
    for name in files:
        path = ROOT / name
        if path.name == "auth_token" or path.suffix in (".token", ".pem", ".key"):
            problems.append(f"{name}: a credential file")
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for pattern, what in ((EXPOSED, "exposes a Ray port"), (SECRET, "holds a secret")):
                if pattern.search(line):
                    problems.append(f"{name}:{number}: {what}: {line.strip()}")
    assert not problems, "\n".join(problems)
    assert SECRET.search("RAY_AUTH_TOKEN=" + "3f" * 16) and EXPOSED.search("--dashboard-host=" + "0.0.0.0")
