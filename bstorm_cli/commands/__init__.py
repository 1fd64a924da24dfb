"""One module per bstorm command; each is thin and delegates to ``experiment`` or the engine."""

from bstorm_cli.commands.data import data_group
from bstorm_cli.commands.draw_net import draw_net_command
from bstorm_cli.commands.evaluate import evaluate_command
from bstorm_cli.commands.export import export_command
from bstorm_cli.commands.extract import extract_command
from bstorm_cli.commands.generate import generate_command
from bstorm_cli.commands.info import info_command
from bstorm_cli.commands.plot import plot_command
from bstorm_cli.commands.predict import predict_command
from bstorm_cli.commands.runs import runs_command
from bstorm_cli.commands.schema import schema_command
from bstorm_cli.commands.train import train_command
from bstorm_cli.commands.tune import tune_command
from bstorm_cli.commands.validate import validate_command

#: every command, in the order `bstorm --help` lists them
ALL_COMMANDS = [train_command, tune_command, runs_command, validate_command, evaluate_command,
                extract_command, predict_command, export_command, info_command, draw_net_command,
                plot_command, schema_command, data_group, generate_command]
