"""The L2's VM: Prague, except that a block may share its parent's timestamp.

Ethereum headers count time in whole seconds and L1 requires each block to be strictly later than
its parent, which caps a chain at one block per second. An L2 with 100 ms blocks needs several
blocks in one second, as Arbitrum makes them: timestamps never decrease, and blocks built within
one second carry that second. Every other header rule is Prague's.
"""

from __future__ import annotations

from eth.abc import BlockHeaderAPI
from eth.vm.forks import PragueVM


class L2PragueVM(PragueVM):
    @classmethod
    def validate_header(cls, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        if parent_header is not None and header.timestamp == parent_header.timestamp:
            # Prague's checks, of which only "strictly later than the parent" looks at the timestamp
            header = header.copy(timestamp=header.timestamp + 1)
        super().validate_header(header, parent_header)
