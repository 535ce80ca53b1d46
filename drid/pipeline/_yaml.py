"""The YAML reader of configs and ``--set`` values: libyaml's safe loader, bounded (size, expanded
values, depth, duplicate keys) before any value is built, with strings that remember the config
file's folder."""

from __future__ import annotations

from typing import Any

import yaml

from drid.errors import ConfigError
from drid.pipeline.params import ConfigText

__all__ = ["MAX_CONFIG_BYTES", "MAX_CONFIG_DEPTH", "MAX_CONFIG_NODES", "parse_yaml"]

# Bounds of what a config may be. A config describes a pipeline; the data it runs on lives in
# files its plugins read. The largest config drid ships (examples/street-rules.yaml) is 2.4 kB,
# 190 YAML nodes and 9 levels deep; a config with a 10,000-point zone polygon is 127 kB and 30,017
# nodes (measured). Parsing 1 MiB of YAML took 4 to 9 s (libyaml, on the project's shared 2-core
# machine), so the size bound also bounds the time a config can cost before its first error.
#: Largest config file read, in bytes.
MAX_CONFIG_BYTES = 1 << 20
#: Most YAML nodes a config may expand to, an alias counted as often as it is used: a "billion
#: laughs" document (aliases of aliases, a few hundred bytes) is refused before it is expanded.
MAX_CONFIG_NODES = 500_000
#: Deepest nesting of mappings and lists.
MAX_CONFIG_DEPTH = 64

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ConfigLoader(_Loader):
    """libyaml's safe loader whose strings remember the config file's folder (:class:`ConfigText`)."""

    base = ""

    def _text(self, node: yaml.ScalarNode) -> str:
        value = self.construct_scalar(node)
        return ConfigText(value, self.base) if self.base else value


_ConfigLoader.add_constructor("tag:yaml.org,2002:str", _ConfigLoader._text)
# A config read by drid and written back out (yaml.safe_dump of read_config_file's mapping) stays plain YAML.
for _dumper in (yaml.SafeDumper, yaml.Dumper, *((yaml.CSafeDumper, yaml.CDumper) if hasattr(yaml, "CSafeDumper") else ())):
    _dumper.add_representer(ConfigText, yaml.representer.SafeRepresenter.represent_str)


def _line(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _check_nodes(root: yaml.Node) -> None:
    """Refuse duplicate keys, recursive aliases, and documents that expand (aliases counted as
    often as they are used) to more than ``MAX_CONFIG_NODES`` nodes or nest deeper than
    ``MAX_CONFIG_DEPTH``: one pass over the composed nodes, each visited once."""
    size: dict[int, int] = {}
    open_nodes: set[int] = set()  # the path from the root to the node being visited
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        key = id(node)
        if finished:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] > MAX_CONFIG_NODES:
                raise ConfigError(f"{_line(node)}: the document expands to more than {MAX_CONFIG_NODES:,} values "
                                  "(aliases of aliases?); drid refuses configs this large")
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise ConfigError(f"{_line(node)}: recursive alias (a value that contains itself)")
        if len(open_nodes) >= MAX_CONFIG_DEPTH:
            raise ConfigError(f"{_line(node)}: nested more than {MAX_CONFIG_DEPTH} levels deep")
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for k, _ in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in seen:
                        raise ConfigError(f"{_line(k)}: duplicate key '{_cut(k.value)}' (first given on {_line(seen[k.value])}); "
                                          "a key may appear once in a mapping")
                    seen[k.value] = k
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _cut(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def parse_yaml(text: str, *, base: str = "") -> Any:
    """YAML text as Python values, with drid's bounds: the size of the expanded document, its
    depth and duplicate keys are checked on the parsed nodes before any value is built
    (``ConfigError`` with the line; the caller adds the file). Strings remember ``base``, the
    folder of the config file (see :class:`~drid.pipeline.params.ConfigText`)."""
    loader = _ConfigLoader(text)
    loader.base = base
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{line}invalid YAML: {_cut(str(problem), 120)}") from None
    except RecursionError:
        raise ConfigError(f"nested more than {MAX_CONFIG_DEPTH} levels deep") from None
    finally:
        loader.dispose()
