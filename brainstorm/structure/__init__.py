"""Network structure: construction, architectures, layouts, buffers and the Network."""

from brainstorm.structure.architecture import generate_architecture
from brainstorm.structure.network import Network

__all__ = ['Network', 'generate_architecture']
