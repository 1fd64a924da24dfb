"""Progress as plain lines at a fixed wall-time interval, for logs without a terminal.

A CNN epoch on a CPU can take many minutes; one row per epoch says nothing meanwhile.
When stderr is not a terminal (a pipe, a batch job's log file, CI), ``bstorm train``
prints a line like::

    progress: epoch 3/30, batch 120/410 (29%), 512.3 samples/s, ETA 21m40s, training loss 0.4321

every ``interval`` seconds (30 by default; ``--progress-interval``). The rate is taken
over the whole run so far; the ETA is for the whole run when the number of epochs is
known (a StopAfterEpoch hook), else for the current epoch; the training loss is the
running mean over the current epoch's batches (what ``rolling_training.total_loss``
becomes at the end of the epoch).
"""

import time

#: seconds between two lines unless --progress-interval says otherwise
DEFAULT_INTERVAL = 30.0


def duration_text(seconds):
    """12 s, 4m05s, 2h03m."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


class ProgressLines:
    """Decides when a progress line is due and writes its text.

    Args:
        batches_per_epoch (Optional[int]): batches in one epoch (None: unknown).
        max_epochs (Optional[int]): epochs of the run (None: unknown).
        samples_per_batch (Optional[int]): sequences per batch, for samples/s.
        running_loss (Optional[callable]): () -> the current epoch's mean training loss.
        interval (float): seconds between two lines.
        clock (callable): the time source (tests pass a fake one).
    """

    def __init__(self, batches_per_epoch, max_epochs=None, samples_per_batch=None,
                 running_loss=None, interval=DEFAULT_INTERVAL, clock=time.monotonic):
        self.batches_per_epoch = batches_per_epoch
        self.max_epochs = max_epochs
        self.samples_per_batch = samples_per_batch
        self.running_loss = running_loss
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last_line = self.started
        self.batches = 0

    def update(self, epoch_nr, batch_in_epoch):
        """One more batch is done; return a line when one is due, else None."""
        self.batches += 1
        now = self.clock()
        if now - self.last_line < self.interval:
            return None
        self.last_line = now
        return self.line(epoch_nr, batch_in_epoch, now)

    def line(self, epoch_nr, batch_in_epoch, now):
        per_second = self.batches / max(now - self.started, 1e-9)
        parts = [f"epoch {epoch_nr}" + (f"/{self.max_epochs}" if self.max_epochs else '')]
        total = self.batches_per_epoch
        if total:
            parts.append(f"batch {batch_in_epoch}/{total} ({100 * batch_in_epoch // total}%)")
        else:
            parts.append(f"batch {batch_in_epoch}")
        if self.samples_per_batch:
            parts.append(f"{per_second * self.samples_per_batch:.1f} samples/s")
        else:
            parts.append(f"{per_second:.2f} batches/s")
        if total:
            remaining = total - batch_in_epoch
            if self.max_epochs:
                remaining += max(0, self.max_epochs - epoch_nr) * total
            parts.append(f"ETA {duration_text(remaining / per_second)}")
        loss = self.running_loss() if self.running_loss is not None else None
        if loss is not None:
            parts.append(f"training loss {loss:.4f}")
        return 'progress: ' + ', '.join(parts)
