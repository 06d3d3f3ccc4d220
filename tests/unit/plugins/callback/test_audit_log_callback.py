"""The audit_log callback's pure helpers: who the actor is, which values count as secrets."""

from __future__ import annotations

from ansible_collections.phoenix.immutable.plugins.callback import audit_log


def test_the_actor_is_the_awx_user_and_job_from_awx_extra_variables():
    actor = audit_log.actor_from(
        {"awx_user_name": "alice", "awx_job_id": 12, "awx_job_template_name": "Bake"}, {"JOB_ID": "99"}
    )
    assert actor["source"] == "awx" and actor["user"] == "alice" and actor["job_id"] == "12"
    assert actor["job_template"] == "Bake" and actor["controller"]


def test_the_older_tower_names_and_the_job_id_from_the_environment_count_too():
    actor = audit_log.actor_from({"tower_user_name": "bob", "tower_job_id": ""}, {"JOB_ID": "99"})
    assert (actor["source"], actor["user"], actor["job_id"]) == ("awx", "bob", "99")


def test_without_awx_the_actor_is_the_local_user(monkeypatch):
    monkeypatch.setattr(audit_log.getpass, "getuser", lambda: "carol")
    actor = audit_log.actor_from({}, {})
    assert actor["source"] == "local" and actor["user"] == "carol" and "job_id" not in actor


def test_secret_looking_environment_variables_and_arguments_are_secrets():
    environ = {
        "AWS_SECRET_ACCESS_KEY": "s1",
        "AWS_SECURITY_TOKEN": "t1",
        "PHOENIX_SIGNING_KEY_PASSPHRASE": "p1",
        "AZURE_SECRET": "a1",
        "DB_PASSWORD": "",
        "AWS_ACCESS_KEY_ID": "public",
        "HOME": "/root",
    }
    assert sorted(audit_log.environment_secrets(environ)) == ["a1", "p1", "s1", "t1"]
    args = {"secret_key": "k", "key_passphrase": "pp", "name": "web", "session_token": 5}
    assert sorted(audit_log.argument_secrets(args)) == ["k", "pp"]
