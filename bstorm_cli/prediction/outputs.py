"""Writing predictions: HDF5, ``.npy`` or CSV, batch by batch, under a temporary name.

Each writer gets the batches in order and is finished (renamed into place) only when
every batch is written, so an interrupted prediction never leaves a partial file under
the output's name.

* HDF5: ``predictions`` ``(T, N, ...)`` and, with classes, ``classes`` and
  ``class_probabilities`` ``(T, N, k)``; the provenance as file attributes.
* ``.npy``: one array, the classes ``(T, N, 1)`` with ``--classes``, else the
  predictions; the provenance in ``OUT.npy.json`` next to it.
* CSV: one row per sample (per sample and time step when ``T > 1``, padding left
  out); the provenance as ``# key: value`` lines first (``pandas.read_csv(path,
  comment='#')`` reads it).
"""

import json
import os
import pathlib

import numpy as np

from brainstorm.utils import temporary_file_beside

from bstorm_cli.errors import BadInputError, Location

FORMATS = {'.h5': 'hdf5', '.hdf5': 'hdf5', '.hdf': 'hdf5', '.npy': 'npy', '.csv': 'csv'}


def output_format(path, requested):
    """The format to write: ``requested``, or the one of ``path``'s extension."""
    if requested:
        return requested
    found = FORMATS.get(pathlib.Path(path).suffix.lower())
    if found is None:
        raise BadInputError("cannot tell the output format from the extension",
                            Location(str(path)), "use .h5, .npy or .csv, or --format")
    return found


class _Writer:
    """Writes to a temporary file in the output's folder; ``finish`` renames it."""

    def __init__(self, path, provenance, count, time_size, top_k):
        self.path = pathlib.Path(path)
        self.provenance = provenance
        self.count = count
        self.time_size = time_size
        self.top_k = top_k
        handle, self.temporary = temporary_file_beside(self.path)
        os.close(handle)

    def finish(self):
        os.replace(self.temporary, self.path)

    def discard(self):
        if os.path.exists(self.temporary):
            os.remove(self.temporary)


class Hdf5Writer(_Writer):
    def __init__(self, *arguments):
        import h5py
        super().__init__(*arguments)
        self.file = h5py.File(self.temporary, 'w')
        self.file.attrs['format'] = 'bstorm-predictions'
        self.file.attrs.update(self.provenance)
        self.datasets = None

    def add(self, batch, classes, scores):
        start, stop = batch.start, batch.start + batch.outputs.shape[1]
        if self.datasets is None:
            feature = batch.outputs.shape[2:]
            self.datasets = {'predictions': self.file.create_dataset(
                'predictions', (self.time_size, self.count) + feature, dtype='float32')}
            if classes is not None:
                shape = (self.time_size, self.count, classes.shape[-1])
                self.datasets['classes'] = self.file.create_dataset('classes', shape, 'int64')
                self.datasets['class_probabilities'] = self.file.create_dataset(
                    'class_probabilities', shape, 'float32')
        self.datasets['predictions'][:, start:stop] = batch.outputs
        if classes is not None:
            self.datasets['classes'][:, start:stop] = classes
            self.datasets['class_probabilities'][:, start:stop] = scores

    def finish(self):
        self.file.close()
        super().finish()

    def discard(self):
        self.file.close()
        super().discard()


class NpyWriter(_Writer):
    def __init__(self, *arguments):
        super().__init__(*arguments)
        if self.top_k > 1:
            raise BadInputError("a .npy file holds one array: the top-k probabilities need "
                                "HDF5 or CSV output", Location(str(self.path)))
        self.array = None

    def add(self, batch, classes, scores):
        values = batch.outputs if classes is None else classes
        start, stop = batch.start, batch.start + values.shape[1]
        if self.array is None:
            self.array = np.lib.format.open_memmap(
                self.temporary, mode='w+', dtype='float32' if classes is None else 'int64',
                shape=(self.time_size, self.count) + values.shape[2:])
        self.array[:, start:stop] = values

    def finish(self):
        self.array.flush()
        del self.array
        sidecar = self.path.with_name(self.path.name + '.json')
        handle, temporary = temporary_file_beside(sidecar)
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            json.dump(self.provenance, stream, indent=2)
        super().finish()
        os.replace(temporary, sidecar)

    def discard(self):
        self.array = None
        super().discard()


class CsvWriter(_Writer):
    def __init__(self, *arguments):
        super().__init__(*arguments)
        self.stream = open(self.temporary, 'w', encoding='utf-8', newline='')
        for key, value in self.provenance.items():
            self.stream.write(f"# {key}: {value}\n")
        self.header_written = False

    def _header(self, batch, classes):
        columns = ['sequence', 'step'] if self.time_size > 1 else []
        if classes is None:
            width = int(np.prod(batch.outputs.shape[2:]))
            columns += [f"output_{index}" for index in range(width)]
        elif classes.shape[-1] == 1:
            columns += ['class', 'probability']
        else:
            for rank in range(1, classes.shape[-1] + 1):
                columns += [f"class_{rank}", f"probability_{rank}"]
        self.stream.write(','.join(columns) + '\n')
        self.header_written = True

    def add(self, batch, classes, scores):
        if not self.header_written:
            self._header(batch, classes)
        time_size, batch_size = batch.outputs.shape[:2]
        if classes is None:
            values = batch.outputs.reshape(time_size, batch_size, -1)
        else:
            values = np.empty(classes.shape[:2] + (2 * classes.shape[-1],), dtype=object)
            values[..., 0::2] = classes
            values[..., 1::2] = scores
        lines = []
        for sample in range(batch_size):
            for step in range(time_size):
                if batch.mask is not None and batch.mask[step, sample, 0] == 0:
                    continue  # padding of a shorter sequence: no prediction to report
                lead = [str(batch.start + sample), str(step)] if self.time_size > 1 else []
                lines.append(','.join(lead + [_text(value) for value in values[step, sample]]))
        self.stream.write('\n'.join(lines) + ('\n' if lines else ''))

    def finish(self):
        self.stream.close()
        super().finish()

    def discard(self):
        self.stream.close()
        super().discard()


def _text(value):
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.7g}"


WRITERS = {'hdf5': Hdf5Writer, 'npy': NpyWriter, 'csv': CsvWriter}


def open_writer(path, file_format, provenance, count, time_size, top_k):
    """A writer of ``file_format`` for ``count`` sequences of ``time_size`` steps."""
    return WRITERS[file_format](path, provenance, count, time_size, top_k)
