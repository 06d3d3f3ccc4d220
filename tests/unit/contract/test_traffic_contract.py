"""TrafficBackend contract: the split it declares, shares, backends found or None, attach and detach.

Run on every adapter (`subject`: aws through moto and gcp on the GCE emulator, WEIGHTED; azure on the ARM emulator
and the reference cloud, MEMBERSHIP). What only a WEIGHTED backend does (set_shares, create_backend_like) is
skipped on MEMBERSHIP, and the other way round.
"""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import MEMBERSHIP, WEIGHTED
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.fleet import Backend
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import SERVICE

SPLITS = {"aws": WEIGHTED, "gcp": WEIGHTED, "azure": MEMBERSHIP, "reference": MEMBERSHIP}


def weighted_only(subject):
    if subject.traffic.split != WEIGHTED:
        pytest.skip("split=%s has no weights and makes no backends" % subject.traffic.split)


def test_the_split_is_declared(subject):
    assert subject.traffic.split == SPLITS[subject.name]


def test_the_frontend_sends_everything_to_the_serving_backend(subject):
    assert subject.traffic.shares(subject.frontend) == {subject.blue_backend: 100}


def test_a_backend_is_found_by_id_and_by_name_and_a_missing_one_is_none(subject):
    found = subject.traffic.backend(subject.blue_backend)
    assert isinstance(found, Backend) and found.id == subject.blue_backend
    assert subject.traffic.find_backend(subject.blue_backend_name) == found
    assert subject.traffic.backend(subject.missing_backend_id) is None
    assert subject.traffic.find_backend("%s-z" % subject.service) is None


def test_deleting_a_missing_backend_is_fine(subject):
    subject.traffic.delete_backend(subject.missing_backend_id)


def test_a_backend_the_frontend_uses_is_not_deleted(subject):
    with pytest.raises(PhoenixError):
        subject.traffic.delete_backend(subject.blue_backend)
    assert subject.traffic.backend(subject.blue_backend) is not None
    assert subject.traffic.shares(subject.frontend) == {subject.blue_backend: 100}


def test_attach_and_detach_are_idempotent(subject):
    name = subject.create()
    subject.traffic.attach(name, subject.blue_backend)
    subject.traffic.attach(name, subject.blue_backend)
    assert subject.groups.get(name).backends == [subject.blue_backend]
    subject.traffic.detach(name, subject.blue_backend)
    subject.traffic.detach(name, subject.blue_backend)
    assert subject.groups.get(name).backends == []
    assert subject.groups.get(subject.blue).backends == [subject.blue_backend]


def test_backend_health_lists_the_attached_groups_instances(subject):
    blue = subject.groups.get(subject.blue)
    states = subject.traffic.backend_health(subject.blue_backend)
    assert {instance.id for instance in blue.instances} <= set(states)
    name = subject.create()
    subject.groups.launch(name, subject.groups.prepare_launch(subject.base_id(), subject.images[0], "R1"), 1)
    subject.traffic.attach(name, subject.blue_backend)
    [green_instance] = subject.groups.get(name).instances
    assert green_instance.id in subject.traffic.backend_health(subject.blue_backend)


def test_weighted_shares_reflect_set_shares_and_a_made_backend_copies_its_model(subject):
    weighted_only(subject)
    model = subject.traffic.backend(subject.blue_backend)
    made = subject.traffic.create_backend_like("%s-a" % subject.service, model, {SERVICE: subject.service})
    assert subject.traffic.find_backend("%s-a" % subject.service) == made
    subject.traffic.set_shares(subject.frontend, {subject.blue_backend: 75, made.id: 25})
    assert subject.traffic.shares(subject.frontend) == {subject.blue_backend: 75, made.id: 25}
    subject.traffic.set_shares(subject.frontend, {subject.blue_backend: 100})
    assert {backend: share for backend, share in subject.traffic.shares(subject.frontend).items() if share} == {
        subject.blue_backend: 100
    }
    subject.traffic.delete_backend(made.id)
    assert subject.traffic.backend(made.id) is None


def test_membership_has_no_weights_to_set(reference):
    with pytest.raises(PhoenixError) as refused:
        reference.traffic.set_shares(reference.frontend, {reference.blue_backend: 100})
    assert refused.value.code == "Unsupported"
    with pytest.raises(PhoenixError):
        reference.traffic.create_backend_like("web-a", reference.traffic.backend(reference.blue_backend), {})
