"""Runs one system.ini module file: `python3 run_module.py MODULE.py`.

system.ini is read as genpack-init always read it: a configparser.ConfigParser fed with
"[_default]\n" + the file, so keys before any header are in section "_default".
"""

import builtins
import configparser
import importlib.util
import inspect
import logging
import os
import sys

sys.dont_write_bytecode = True
module_path = sys.argv[1]
ini = configparser.ConfigParser()
ini_path = os.environ.get("GENPACK_INIT_INI")
text = ""
if ini_path and os.path.exists(ini_path):
    with open(ini_path, encoding="utf-8") as f:
        text = f.read()
try:
    ini.read_string("[_default]\n" + text)
except configparser.Error as e:
    print(f"system.ini: {e}; continuing with what could be read", file=sys.stderr)

debug = os.environ.get("GENPACK_INIT_DEBUG") == "1"
logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                    format="%(levelname)s %(filename)s:%(lineno)d %(message)s", stream=sys.stderr)

import genpack_init  # noqa: E402

builtins.coldplug = genpack_init.coldplug

spec = importlib.util.spec_from_file_location("mymodule", module_path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
configure = getattr(module, "configure", None)
if configure is None:
    print(f"{module_path}: no configure() function; nothing to do", file=sys.stderr)
    sys.exit(0)
count = len(inspect.signature(configure).parameters)
if count == 1:
    configure(ini)
elif count == 0:
    configure()
else:
    print(f"{module_path}: configure() must take (ini) or nothing", file=sys.stderr)
    sys.exit(2)
