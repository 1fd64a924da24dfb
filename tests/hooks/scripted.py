"""A monitor that logs a scripted sequence of values, for testing hooks that read logs."""

from brainstorm.hooks import Hook


class ScriptedMonitor(Hook):
    """Logs ``{'value': values[i]}`` at its i-th call (epoch 0 is the first call)."""

    def __init__(self, values, name='monitor', timescale='epoch', interval=1):
        super().__init__(name, timescale, interval)
        self.values = list(values)
        self.calls = 0

    def provided_logs(self, net):
        return ['value']

    def __call__(self, epoch_nr, update_nr, net, stepper, logs):
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return {'value': value}
