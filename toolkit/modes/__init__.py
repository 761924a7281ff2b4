"""Sequencing modes: everything that differs between them, one class per mode, chosen from `MODES`."""

from toolkit.modes.auction import AuctionMode
from toolkit.modes.base import LeaderView, Mode, RegistrySettings
from toolkit.modes.committee import CommitteeMode
from toolkit.modes.pos import PosMode
from toolkit.modes.shared import SharedMode
from toolkit.modes.single import SingleMode

MODES: dict[str, type[Mode]] = {
    mode.name: mode for mode in (SingleMode, CommitteeMode, PosMode, AuctionMode, SharedMode)
}


class UnknownMode(ValueError):
    pass


def mode_named(name: str) -> Mode:
    """The mode object for a config's `mode` string; raises UnknownMode listing the choices."""
    try:
        return MODES[name]()
    except KeyError:
        raise UnknownMode(f"mode {name!r} is not available; choose one of {', '.join(MODES)}") from None


__all__ = ["MODES", "LeaderView", "Mode", "RegistrySettings", "UnknownMode", "mode_named"]
