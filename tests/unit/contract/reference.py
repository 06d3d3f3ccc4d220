"""A reference cloud for the contract tests: in memory, with the strictest rules of the three clouds at once.

It is a test fixture proving that the rollout core is cloud-neutral, never evidence that a real cloud works.
What it refuses, and so what its adapters must work around:

- **Labels only.** A group or a launch carries metadata only as labels: keys and values of ``[a-z0-9_-]``,
  at most 63 characters, a key starting with a letter, at most 64 labels per resource (the rules and the
  codec are reference_codec.py's). ``ReferenceStore`` writes each record field as base32 (lower case, no
  padding) chunked across labels ``(rec, <field>, <n>)``, and refuses a record that does not fit, before any call.
- **No traffic weights.** ``ReferenceTraffic.split`` is MEMBERSHIP: a frontend serves one backend pool and
  every instance of the groups attached to it gets an equal share.
- **No template versions.** ``prepare_launch`` makes a new immutable launch object per rollout, labelled with
  the rollout id and found again by it; ``discard_launch`` deletes it; a base's own launch is never deleted.
  A launch a group still points at is not deleted (GCP instance templates), unless the cloud is made with
  ``refuse_launch_in_use=False``.
- **No atomic create.** Creating a group with a taken name silently replaces it (an Azure PUT without
  If-None-Match). ``ReferenceStore.create`` therefore writes a lock object first with a generation
  precondition (a GCS ``ifGenerationMatch``): of two creates of one name, exactly one wins it. Deleting a
  group deletes its lock object; a lock left by a create that died before its group was made is taken over,
  again by generation, once the lease written in it has ended.

Health: instances are healthy unless a test adds their id to ``cloud.unhealthy``; ``backend_health`` is the
pool's view of its members; ``cloud.alarms`` is ``{name: firing}``. ``cloud.watchers`` are called after every
change (a test checks invariants there), and every call is counted (``api_calls()``).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections import Counter

from reference_codec import LEGAL_KEY, LEGAL_VALUE, STRICT_CODEC, STRICT_LIMITS

from ansible_collections.phoenix.immutable.plugins.module_utils._core.backends import (
    MEMBERSHIP,
    GroupBackend,
    HealthBackend,
    RolloutStore,
    TrafficBackend,
)
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.fleet import Backend, Group, Instance
from ansible_collections.phoenix.immutable.plugins.module_utils._core.health import AlarmState
from ansible_collections.phoenix.immutable.plugins.module_utils._core.rollout_model import RolloutRecord

CLOUD = "reference"
# Group names as the strictest cloud takes them (GCP resource names); groups are <service>-a / <service>-b.
GROUP_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
# The label name of a record field's chunks: the key parts (rec, <field>, <n>).
RECORD = "rec"
# The label name of the rollout id a launch was made for: the key parts (rollout, <n>).
ROLLOUT = "rollout"
# How long a lock object written without a lease (a record with no lease_until) holds a name.
LOCK_SECONDS = 60.0


LABELS = STRICT_CODEC


def _labels_of_field(name, value, resource):
    return LABELS.chunks(RECORD, (name,), value.encode("utf-8"), "the %s of %s" % (name, resource)) if value else {}


def _without_fields(labels, names):
    gone = {(RECORD, name) for name in names}
    return {key: value for key, value in labels.items() if (LABELS.parts(key) or ())[:2] not in gone}


def decode_record(labels, resource):
    """The RolloutRecord in ``labels``, or None when they hold none."""
    values = {}
    for (name,), chunks in LABELS.chunk_groups(RECORD, labels, 1).items():
        if sorted(chunks) != list(range(len(chunks))):
            raise PhoenixError(
                "the record field %s of %s has chunks %s, not 0 to %d"
                % (name, resource, sorted(chunks), len(chunks) - 1),
                resource=resource,
                code="MalformedRecord",
            )
        try:
            values[name] = LABELS.decode_value([chunks[n][1] for n in sorted(chunks)]).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as error:
            raise PhoenixError(
                "the record field %s of %s is not readable: %s" % (name, resource, error),
                resource=resource,
                code="MalformedRecord",
            ) from None
    return RolloutRecord.from_record(values) if values else None


class Clock:
    """A fake clock: ``clock()`` is the time, ``clock.sleep(seconds)`` moves it on at once."""

    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


# -- the cloud ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Group:
    launch: str
    subnets: list
    labels: dict
    size: int = 0
    instances: list = dataclasses.field(default_factory=list)  # [(instance id, launch id)]


class ReferenceCloud:
    """The cloud's state and its own refusals; the adapters below translate the interfaces onto it."""

    def __init__(self, clock=time.time, refuse_launch_in_use=True):
        self.clock = clock
        # GCP refuses to delete an instance template a managed instance group uses, whatever its size.
        self.refuse_launch_in_use = refuse_launch_in_use
        self.groups = {}
        self.launches = {}  # id -> {"base", "image", "labels"}
        self.bases = {}  # name -> its own launch id
        self.pools = {}  # id -> {"name", "settings", "members": [group names]}
        self.frontends = {}  # name -> pool id
        self.objects = {}  # name -> (generation, data): where locks live
        self.alarms = {}  # name -> firing
        self.unhealthy = set()
        self.watchers = []
        self.calls = Counter()
        self._numbers = itertools.count(1)

    def call(self, operation):
        self.calls["%s:%s" % (CLOUD, operation)] += 1

    def changed(self):
        for watcher in list(self.watchers):
            watcher(self)

    def new_id(self, kind):
        return "%s-%d" % (kind, next(self._numbers))

    @staticmethod
    def check_labels(labels, resource):
        problems = [key for key in labels if not LEGAL_KEY.match(key)]
        problems += ["%s=%s" % (key, value) for key, value in labels.items() if not LEGAL_VALUE.match(value)]
        if len(labels) > STRICT_LIMITS.max_tags:
            problems.append("%d labels, at most %d" % (len(labels), STRICT_LIMITS.max_tags))
        if problems:
            raise PhoenixError("the reference cloud refuses the labels of %s: %s" % (resource, ", ".join(problems)))

    def group(self, name):
        found = self.groups.get(name)
        if found is None:
            raise PhoenixError("group %s not found" % name, resource=name, code="NotFound", cloud=CLOUD)
        return found

    def put_group(self, name, launch, subnets, labels):
        """Create or silently replace (no If-None-Match): the old group's instances and members go."""
        self.check_labels(labels, name)
        self.groups[name] = _Group(launch=launch, subnets=list(subnets), labels=dict(labels))
        for pool in self.pools.values():
            if name in pool["members"]:
                pool["members"].remove(name)
        self.changed()

    def size_group(self, name, size):
        group = self.group(name)
        group.instances = [item for item in group.instances if item[1] == group.launch][:size]
        while len(group.instances) < size:
            group.instances.append((self.new_id("i"), group.launch))
        group.size = size
        self.changed()

    def put_object(self, name, data, if_generation_match):
        generation = self.objects.get(name, (0, None))[0]
        if generation != if_generation_match:
            raise PhoenixError(
                "object %s is at generation %d, not %d" % (name, generation, if_generation_match),
                resource=name,
                code="PreconditionFailed",
                cloud=CLOUD,
            )
        self.objects[name] = (generation + 1, dict(data))
        return generation + 1


@dataclasses.dataclass(frozen=True)
class ReferenceSeed:
    """What ``seed_service`` made: a base, a blue group serving through a pool behind a frontend."""

    service: str
    frontend: str
    base: str
    base_launch: str
    group_name: str
    backend_id: str
    size: int
    image_id: str
    subnets: tuple


def seed_service(cloud, service="web", size=3, image_id="img-blue"):
    base_launch = cloud.new_id("launch")
    cloud.launches[base_launch] = {"base": "%s-base" % service, "image": image_id, "labels": {}}
    cloud.bases["%s-base" % service] = base_launch
    pool = "pool-%s" % service
    cloud.pools[pool] = {"name": "%s-pool" % service, "settings": {"port": 80}, "members": []}
    cloud.frontends["lb-%s" % service] = pool
    blue = "%s-blue" % service
    cloud.put_group(blue, base_launch, ["subnet-1"], {})
    cloud.size_group(blue, size)
    cloud.pools[pool]["members"].append(blue)
    return ReferenceSeed(
        service=service,
        frontend="lb-%s" % service,
        base="%s-base" % service,
        base_launch=base_launch,
        group_name=blue,
        backend_id=pool,
        size=size,
        image_id=image_id,
        subnets=("subnet-1",),
    )


# -- the adapters ------------------------------------------------------------------------------------------


class _Adapter:
    cloud = CLOUD

    def __init__(self, cloud):
        self.reference = cloud

    def api_calls(self):
        return dict(sorted(self.reference.calls.items()))


def _name(group):
    return group if isinstance(group, str) else group.name


class ReferenceGroups(_Adapter, GroupBackend):
    codec = LABELS

    def _view(self, name):
        group = self.reference.groups[name]
        return Group(
            name=name,
            size=group.size,
            min_size=group.size,
            max_size=group.size,
            launch=group.launch,
            backends=sorted(pool for pool, item in self.reference.pools.items() if name in item["members"]),
            instances=[Instance(iid, True, iid not in self.reference.unhealthy) for iid, _state in group.instances],
            record=decode_record(group.labels, name),
            subnets=list(group.subnets),
        )

    def groups(self, with_members=True):
        self.reference.call("ListGroups")
        return [self._view(name) for name in sorted(self.reference.groups)]

    def get(self, name, with_members=True):
        self.reference.call("GetGroup")
        return self._view(name) if name in self.reference.groups else None

    def check_service_name(self, service):
        if not (GROUP_NAME.match(service or "") and len(service) <= 61):
            raise InvalidInput(
                "service %r must be 1 to 61 lower-case letters, digits or hyphens, starting with a letter and not "
                "ending with a hyphen" % service,
                resource=service,
                hint="Its groups are named <service>-a and <service>-b, at most 63 characters.",
            )

    def resolve_base(self, base):
        self.reference.call("GetBase")
        if base in self.reference.bases:
            return base
        named = [name for name, launch in self.reference.bases.items() if launch == base]
        if not named:
            raise InvalidInput("base %r does not exist" % base, resource=base, hint="Name a base of the service.")
        return named[0]

    def base_launch(self, base):
        return self.reference.bases[base]

    def image_of(self, group):
        launch = self.reference.launches.get(self.reference.group(_name(group)).launch)
        return launch["image"] if launch else None

    def prepare_launch(self, base, image_id, rollout_id):
        found = self.prepared_launches(base, rollout_id)
        if found:
            return found[0]
        self.reference.call("CreateLaunch")
        labels = LABELS.chunks(ROLLOUT, (), rollout_id.encode("utf-8"), "a launch of %s" % base)
        self.reference.check_labels(labels, base)
        launch = self.reference.new_id("launch")
        self.reference.launches[launch] = {"base": base, "image": image_id, "labels": labels}
        return launch

    def prepared_launches(self, base, rollout_id):
        self.reference.call("ListLaunches")
        found = []
        for launch, item in self.reference.launches.items():
            chunks = LABELS.chunk_groups(ROLLOUT, item["labels"], 0).get(())
            if item["base"] != base or not chunks:
                continue
            if LABELS.decode_value([chunks[n][1] for n in sorted(chunks)]).decode("utf-8") == rollout_id:
                found.append(launch)
        return sorted(found, key=lambda launch: int(launch.rsplit("-", 1)[1]))

    def discard_launch(self, launch):
        self.reference.call("DeleteLaunch")
        if launch in self.reference.bases.values() or launch not in self.reference.launches:
            return
        users = sorted(name for name, group in self.reference.groups.items() if group.launch == launch)
        if users and self.reference.refuse_launch_in_use:
            raise PhoenixError(
                "launch %s is in use by group %s" % (launch, ", ".join(users)),
                resource=launch,
                code="ResourceInUse",
                cloud=CLOUD,
            )
        del self.reference.launches[launch]
        self.reference.changed()

    def launch(self, name, launch, size):
        self.reference.call("UpdateGroup")
        if launch not in self.reference.launches:
            raise PhoenixError("launch %s not found" % launch, resource=launch, code="NotFound", cloud=CLOUD)
        self.reference.group(name).launch = launch
        self.reference.size_group(name, size)

    def resize(self, name, size):
        self.reference.call("ResizeGroup")
        self.reference.size_group(name, size)

    def delete(self, name):
        self.reference.call("DeleteGroup")
        if self.reference.groups.pop(name, None) is None:
            return
        self.reference.objects.pop(ReferenceStore.lock_name(name), None)
        for pool in self.reference.pools.values():
            if name in pool["members"]:
                pool["members"].remove(name)
        self.reference.changed()


class ReferenceStore(_Adapter, RolloutStore):
    @staticmethod
    def lock_name(group):
        return "locks/%s" % group

    def _encoded(self, labels, record, names, resource):
        """``labels`` with the fields ``names`` of ``record`` (re)written; refuses what does not fit."""
        kept = _without_fields(labels, names)
        for name, value in record.to_record(names).items():
            kept.update(_labels_of_field(name, value, resource))
        if len(kept) > STRICT_LIMITS.max_tags:
            sizes = {name: len(_labels_of_field(name, value, resource)) for name, value in record.to_record().items()}
            raise InvalidInput(
                "the rollout record of %s needs %d labels, the reference cloud allows %d per group (labels per "
                "field: %s); nothing was written"
                % (
                    resource,
                    len(kept),
                    STRICT_LIMITS.max_tags,
                    ", ".join("%s %d" % item for item in sorted(sizes.items()) if item[1]),
                ),
                resource=resource,
                hint="Shorten the longest values (reason, launch references).",
            )
        return kept

    def create(self, group, base, subnets, record, backends=()):
        labels = self._encoded({}, record, list(record.to_record()), group)
        cloud = self.reference
        if base not in cloud.bases:
            raise InvalidInput("base %r does not exist" % base, resource=base)
        cloud.call("GetObject")
        generation, held = cloud.objects.get(self.lock_name(group), (0, None))
        if held is not None and (group in cloud.groups or held["until"] > cloud.clock()):
            return False
        cloud.call("PutObject")
        until = record.lease_until or cloud.clock() + LOCK_SECONDS
        try:
            cloud.put_object(self.lock_name(group), {"until": until, "owner": record.owner}, generation)
        except PhoenixError as error:
            if error.code == "PreconditionFailed":
                return False
            raise
        cloud.call("PutGroup")
        for backend in backends:
            if backend not in cloud.pools:
                raise PhoenixError("pool %s not found" % backend, resource=backend, code="NotFound", cloud=CLOUD)
        cloud.put_group(group, cloud.bases[base], subnets, labels)
        for backend in backends:
            cloud.pools[backend]["members"].append(group)
        return True

    def shown(self, field, value):
        return "labels %s (base32 of %r)" % (LABELS.key(RECORD, field, "*"), value)

    def read(self, group):
        self.reference.call("GetGroup")
        found = self.reference.groups.get(group)
        return decode_record(found.labels, group) if found else None

    def _set_labels(self, group, labels):
        self.reference.call("SetLabels")
        self.reference.check_labels(labels, group)
        self.reference.group(group).labels = labels
        self.reference.changed()

    def write(self, group, record, fields):
        self.reference.call("GetGroup")
        labels = self.reference.group(group).labels
        self._set_labels(group, self._encoded(labels, record, list(fields), group))

    def clear(self, group, fields):
        self.reference.call("GetGroup")
        self._set_labels(group, _without_fields(self.reference.group(group).labels, fields))


def _unsupported(what):
    return PhoenixError(
        "the reference cloud has no traffic weights: %s is not supported with split=membership" % what,
        code="Unsupported",
        cloud=CLOUD,
    )


class ReferenceTraffic(_Adapter, TrafficBackend):
    split = MEMBERSHIP

    def shares(self, frontend):
        self.reference.call("GetFrontend")
        if frontend not in self.reference.frontends:
            raise PhoenixError("frontend %s not found" % frontend, resource=frontend, code="NotFound", cloud=CLOUD)
        return {self.reference.frontends[frontend]: 100}

    def set_shares(self, frontend, shares):
        raise _unsupported("set_shares")

    def _backend(self, backend_id):
        pool = self.reference.pools[backend_id]
        return Backend(backend_id, pool["name"], dict(pool["settings"]))

    def backend(self, backend_id):
        self.reference.call("GetPool")
        return self._backend(backend_id) if backend_id in self.reference.pools else None

    def find_backend(self, name):
        self.reference.call("ListPools")
        found = [pool for pool, item in self.reference.pools.items() if item["name"] == name]
        return self._backend(found[0]) if found else None

    def create_backend_like(self, name, model, labels):
        raise _unsupported("create_backend_like")

    def delete_backend(self, backend_id):
        self.reference.call("DeletePool")
        if backend_id not in self.reference.pools:
            return
        users = sorted(name for name, pool in self.reference.frontends.items() if pool == backend_id)
        if users:
            raise PhoenixError(
                "pool %s is in use by frontend %s" % (backend_id, ", ".join(users)),
                resource=backend_id,
                code="ResourceInUse",
                cloud=CLOUD,
            )
        del self.reference.pools[backend_id]
        self.reference.changed()

    def _pool(self, backend_id):
        if backend_id not in self.reference.pools:
            raise PhoenixError("pool %s not found" % backend_id, resource=backend_id, code="NotFound", cloud=CLOUD)
        return self.reference.pools[backend_id]

    def attach(self, group, backend_id):
        self.reference.call("AddMember")
        name = _name(group)
        self.reference.group(name)
        members = self._pool(backend_id)["members"]
        if name not in members:
            members.append(name)
            self.reference.changed()

    def detach(self, group, backend_id):
        self.reference.call("RemoveMember")
        members = self._pool(backend_id)["members"]
        if _name(group) in members:
            members.remove(_name(group))
            self.reference.changed()

    def backend_health(self, backend_id):
        self.reference.call("GetPoolHealth")
        states = {}
        for name in self._pool(backend_id)["members"]:
            for iid, _state in self.reference.groups[name].instances:
                states[iid] = "unhealthy" if iid in self.reference.unhealthy else "healthy"
        return states


class ReferenceHealth(_Adapter, HealthBackend):
    def alarm_states(self, names):
        self.reference.call("GetAlarms")
        alarms = self.reference.alarms
        return {
            name: AlarmState(name, alarms[name], "FIRING" if alarms[name] else "OK") for name in names if name in alarms
        }


def reference_adapters(cloud):
    """(groups, store, traffic, health) on one reference cloud."""
    return ReferenceGroups(cloud), ReferenceStore(cloud), ReferenceTraffic(cloud), ReferenceHealth(cloud)
