"""BufferView: named, ordered access to arrays, by attribute, key or dotted path."""

import difflib


class BufferView:
    """An ordered tree node of named buffers.

    ``view.outputs.default``, ``view['outputs']['default']`` and
    ``view['outputs.default']`` are the same array. Integer keys index the
    children in order, and, as brainstorm 0.5's BufferView was a list, iterating
    yields the children (arrays or views) in order, so ``W, bias =
    buffers.parameters`` unpacks; ``keys()``, ``values()`` and ``items()`` give
    the names too. ``_full_buffer`` is the one array all children are
    views of, where they are contiguous (e.g. all parameters of a layer).
    """

    def __init__(self, children, full_buffer=None, name=''):
        object.__setattr__(self, '_children', dict(children))
        object.__setattr__(self, '_full_buffer', full_buffer)
        object.__setattr__(self, '_name', name)

    def __getattr__(self, key):
        children = object.__getattribute__(self, '_children')
        if key in children:
            return children[key]
        raise AttributeError(self._missing_message(key))

    def __setattr__(self, key, value):
        raise AttributeError(f"buffer views are read-only; copy data into the array instead "
                             f"(e.g. with handler.set_from_numpy), not assign {key!r}")

    def _missing_message(self, key):
        where = f" in {self._name!r}" if self._name else ""
        close = difflib.get_close_matches(str(key), list(self._children), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        available = ', '.join(self._children) or 'nothing'
        return f"no buffer {key!r}{where} (available: {available}){hint}"

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self._children.values())[key]
        if isinstance(key, str) and '.' in key:
            node = self
            for part in key.split('.'):
                if not isinstance(node, BufferView):
                    raise KeyError(f"{key!r}: {part!r} is below an array, not a view")
                node = node[part]
            return node
        if key in self._children:
            return self._children[key]
        raise KeyError(self._missing_message(key))

    def __contains__(self, key):
        try:
            self[key]
        except (KeyError, IndexError):
            return False
        return True

    def __iter__(self):
        return iter(self._children.values())

    def __len__(self):
        return len(self._children)

    def keys(self):
        return self._children.keys()

    def values(self):
        return self._children.values()

    def items(self):
        return self._children.items()

    def __repr__(self):
        return f"<BufferView {self._name or '(root)'}: {', '.join(self._children)}>"
