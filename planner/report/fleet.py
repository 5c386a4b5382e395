"""Per-server and per-rack views of the plan's racks, for PSU and feed sizing."""

from __future__ import annotations

from dataclasses import dataclass

from planner.report.circuits import FeedSizing, size_feed
from planner.report.psu import (
    PsuLoad,
    Redundancy,
    carries_nameplate,
    known_tier,
    parse_redundancy,
    psu_load,
)
from planner.report.site import SiteFacts
from planner.schemas.plan import Plan, Rack, ServerGroup


@dataclass(frozen=True)
class ServerDraw:
    peak_w: float
    """Expected peak input power of one server: its racks' expected peak / their servers."""
    average_w: float


@dataclass(frozen=True)
class PsuPlan:
    group: ServerGroup
    redundancy: Redundancy | None
    at_peak: PsuLoad | None
    at_average: PsuLoad | None
    carries_nameplate_without_spares: bool | None


def server_draw(plan: Plan, gpu: str) -> ServerDraw | None:
    """Mean draw of one server of ``gpu`` from the racks that hold them; None without racks."""
    racks = [r for r in plan.racks if r.gpu == gpu]
    servers = sum(r.servers for r in racks)
    if servers == 0:
        return None
    return ServerDraw(peak_w=sum(r.power_max_w for r in racks) / servers,
                      average_w=sum(r.power_avg_w for r in racks) / servers)


def psu_plan(plan: Plan, group: ServerGroup) -> PsuPlan:
    redundancy = parse_redundancy(group.psu_redundancy, group.psu_count)
    draw = server_draw(plan, group.gpu)
    sized = (draw is not None and group.psu_count and group.psu_rating_w
             and known_tier(group.psu_efficiency_tier))
    at_peak = at_average = None
    if sized:
        assert draw is not None and group.psu_count and group.psu_rating_w
        tier = str(group.psu_efficiency_tier)
        at_peak = psu_load(draw.peak_w, group.psu_count, group.psu_rating_w, tier)
        at_average = psu_load(draw.average_w, group.psu_count, group.psu_rating_w, tier)
    return PsuPlan(group, redundancy, at_peak, at_average,
                   carries_nameplate(redundancy, group.psu_rating_w, group.server_max_power_w))


def rack_feeds(rack: Rack, facts: SiteFacts) -> FeedSizing:
    return size_feed(rack.power_nameplate_w, facts.feeds, facts.circuit)

