"""A domain's public face: the few names other domains may import from it, declared in its `__init__.py`.

    from casting.kernel.faces import public_face

    __getattr__, __dir__, PUBLIC = public_face(__name__, {"services": ["visible", "owned"]}, modules=["cache"])

Other domains then write `from casting.auditions import visible` (or `from casting import auditions` and
`auditions.visible(...)`) and never `casting.auditions.services`; their own tables (`models`) stay
importable as they are. A name is looked up only when first used, so a face loads no more than the direct
import did, and adds no import cycle. `tests/test_architecture.py` holds every domain to it.
"""
import importlib


def public_face(package, exports, modules=()):
    """(`__getattr__`, `__dir__`, the public names) for `package`: `exports` maps each of its modules to the
    names it lends (`"public=attribute"` lends an attribute under another name: one that is also a module's
    name, such as media's `storage()`, would be shadowed by the module), `modules` names whole modules that are
    public as they are."""
    where = {}
    for module, names in exports.items():
        for entry in names:
            name, _, attribute = entry.partition("=")
            if name in where:
                raise ValueError(f"{package}: {name} is lent twice")
            where[name] = (f"{package}.{module}", attribute or name)
    public = frozenset(where) | frozenset(modules)

    def __getattr__(name):
        if name in where:
            module, attribute = where[name]
            return getattr(importlib.import_module(module), attribute)
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no public name {name!r}")

    def __dir__():
        return sorted(public)

    return __getattr__, __dir__, public
