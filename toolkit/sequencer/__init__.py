"""Sequencer-side pieces that live beside the node: the mempool handoff between sequencers."""
