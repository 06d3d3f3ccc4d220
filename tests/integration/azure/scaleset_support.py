"""What the scale set tests share: a gallery image version to boot from and a scale set body naming a backend pool
(both made in emulators.arm_seed, which the contract suite and the benchmarks seed with too), ids of a pool and a
subnet."""

from __future__ import annotations

from typing import Any

from emulators.arm_seed import GALLERY, IMAGE, gallery_images, scale_set

__all__ = ["GALLERY", "IMAGE", "gallery_images", "pool_id", "scale_set", "subnet_id"]


def pool_id(arm: Any, group: str, balancer: str = "web-lb", pool: str = "web-a") -> str:
    return "%s/providers/Microsoft.Network/loadBalancers/%s/backendAddressPools/%s" % (
        arm.group_path(group),
        balancer,
        pool,
    )


def subnet_id(arm: Any, group: str) -> str:
    return arm.group_path(group) + "/providers/Microsoft.Network/virtualNetworks/web-vnet/subnets/web"
