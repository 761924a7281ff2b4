"""The sequencer role: leadership, block building and signing, batches, attestations, mempool handoff, watchtower."""
