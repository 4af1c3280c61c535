"""Token counting without reading the device each training step.

Trainer's `include_num_input_tokens_seen="non_padding"` sums the attention mask on the device, gathers it over
processes and calls `.item()` after every micro-batch: on CUDA the host then waits for the device to finish all
the work queued so far, every step, and cannot queue the next step's kernels meanwhile. The same count is known
on the host when the batch is collated (`SummarizationCollator(host_counts=True)`, which SummarizationTrainer
turns on): the sum of the examples' lengths. `state.num_input_tokens_seen` holds exactly the same numbers
either way, so the throughput logs and the totals a resumed run restores are unchanged.
"""

from __future__ import annotations

from summarization_data.collator import HOST_COUNTS


class HostTokenCounting:
    """Trainer mixin: `num_input_tokens_seen` from the collator's host-side count when the batch has one."""

    def _track_num_input_tokens(self, inputs):
        counts = inputs.get(HOST_COUNTS) if isinstance(inputs, dict) else None
        # Several processes: the total needs every rank's count, which only Trainer's gather gives (and those runs
        # synchronise the processes at every step anyway, for the gradients).
        if counts is None or self.args.include_num_input_tokens_seen != "non_padding" or self.args.world_size > 1:
            return super()._track_num_input_tokens(inputs)
        self.state.num_input_tokens_seen += counts["non_padding_tokens"]
