"""The measurements of docs/sequence_models.md, through `bstorm` as a user runs it.

* ``tbptt``: configs/hutter_lstm.yaml on a text file (prepared with ``bstorm data
  prepare text``), once with ``trainer.carry_state`` true and once false, at the same
  window length T, the same number of updates and the same seed; prints the
  validation bits per character (the validation loss, summed over a window's
  T steps, / T / ln 2) after each epoch.
* ``vowels``: configs/japanese_vowels.yaml (prepared with ``bstorm data prepare
  ucr``) with a forward ``L32``, a bidirectional ``L32<>`` and, for the same number
  of cells, a forward ``L64``, for several seeds; prints the test accuracy (per real
  frame) at the epoch of the best validation accuracy.

BLAS runs single-threaded (OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1): these networks are small, and
on a loaded machine idle BLAS threads cost more than they give.

Usage:
    python bench/sequence_models.py tbptt DATA.hdf5 [--window 10] [--columns 32]
        [--cells 128] [--epochs 3]
    python bench/sequence_models.py vowels DATA.hdf5 [--seeds 1 2 3]
"""

import argparse
import math
import os
import pathlib
import subprocess
import sys
import tempfile

import h5py

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bstorm_cli.experiment.run_dir import LOGS_FILE, read_logs  # noqa: E402


def bstorm_train(config, out, overrides):
    arguments = [sys.executable, '-m', 'bstorm_cli', 'train', str(ROOT / 'configs' / config),
                 '--out', str(out)]
    for override in overrides:
        arguments += ['--set', override]
    environment = dict(os.environ, OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1')
    completed = subprocess.run(arguments, cwd=ROOT, capture_output=True, text=True,
                               env=environment)
    if completed.returncode != 0:
        raise SystemExit(completed.stderr)
    (run,) = pathlib.Path(out).iterdir()
    return read_logs(run / LOGS_FILE)


def truncated_bptt(args):
    with h5py.File(args.data, 'r') as h5file:
        alphabet_size = int(h5file.attrs['alphabet_size'])
    common = [f'data.file={pathlib.Path(args.data).resolve()}', f'network.spec=L{args.cells}',
              'trainer.stepper={type: AdamStepper, learning_rate: 0.003}',
              'initializers.default={type: Gaussian, std: 0.1}',
              'trainer.hooks[0].timescale=epoch', 'trainer.hooks[0].interval=1',
              f'trainer.hooks[1].max_epochs={args.epochs}']
    for split in ('training', 'validation'):
        common += [f'data.iterators.{split}.chain[0].window_size={args.window}',
                   f'data.iterators.{split}.chain[0].columns={args.columns}',
                   f'data.iterators.{split}.chain[1].vocab_size_dict.default={alphabet_size}']
    print(f"hutter_lstm.yaml on {args.data}: L{args.cells}, T={args.window}, "
          f"{args.columns} columns, {args.epochs} epochs; validation bits per character")
    for carry in ('true', 'false'):
        with tempfile.TemporaryDirectory() as out:
            logs = bstorm_train('hutter_lstm.yaml', out, common + [f'trainer.carry_state={carry}'])
        bits = [loss / args.window / math.log(2) for loss in logs['validation.total_loss']]
        print(f"  carry_state={carry:5s}: " + '  '.join(f"{value:.3f}" for value in bits))


def vowels(args):
    print(f"japanese_vowels.yaml on {args.data}: test accuracy per real frame at the best "
          f"validation epoch")
    for spec in ('L32', 'L32<>', 'L64'):
        results = []
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as out:
                logs = bstorm_train('japanese_vowels.yaml', out, [
                    f'data.file={pathlib.Path(args.data).resolve()}', f'network.spec={spec}',
                    f'seed={seed}'])
            validation = list(logs['validation.Accuracy'])
            best = validation.index(max(validation))
            results.append(float(logs['test.Accuracy'][best]))
        mean = sum(results) / len(results)
        print(f"  {spec:6s}: " + '  '.join(f"{value:.4f}" for value in results) +
              f"   mean {mean:.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    tbptt = commands.add_parser('tbptt')
    tbptt.add_argument('data')
    tbptt.add_argument('--window', type=int, default=10)
    tbptt.add_argument('--columns', type=int, default=32)
    tbptt.add_argument('--cells', type=int, default=128)
    tbptt.add_argument('--epochs', type=int, default=3)
    japanese = commands.add_parser('vowels')
    japanese.add_argument('data')
    japanese.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3])
    args = parser.parse_args(argv)
    (truncated_bptt if args.command == 'tbptt' else vowels)(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
