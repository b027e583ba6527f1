"""Commands the stack exports for an operator to run as `$(pulumi stack output <name>)`.

Command substitution does not parse its result as shell code: bash only splits it into words at
whitespace and expands glob patterns in each word (bash manual, "Command Substitution", "Word
Splitting", "Filename Expansion"). `&&`, `;`, `|`, quotes and `VAR=value` arrive as plain arguments
of the first word's command. So each exported command is ONE simple command, built here from an
argument list, whose words hold nothing the shell would split, expand or misread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Whitespace splits a word; * ? [ expand as globs; the rest would only look like shell syntax and
# reach the command literally (an `&&` becomes an argument, a quote a character of the value).
UNSAFE_CHARACTERS = re.compile(r"[\s*?\[\]'\"\\$`&;|<>(){}]")
SHOWN_UNSAFE = "whitespace or any of * ? [ ] ' \" \\ $ ` & ; | < > ( ) { }"


def command_line(argv: Sequence[str]) -> str:
    """`argv` as one line that `$(...)` splits back into exactly these words."""
    if not argv:
        raise ValueError("a command needs at least its program name")
    for word in argv:
        if not word or UNSAFE_CHARACTERS.search(word):
            raise ValueError(
                f"{word!r} in {list(argv)} would not reach the command unchanged through $(...); "
                f"a word must be non-empty and hold no {SHOWN_UNSAFE}"
            )
    if "=" in argv[0]:
        raise ValueError(f"{argv[0]!r}: an assignment is not recognised after $(...); pass --kubeconfig or --context")
    return " ".join(argv)


def port_forward(kubectl_flags: Sequence[str], namespace: str, service: str, port: int) -> str:
    """`kubectl [flags] -n <namespace> port-forward svc/<service> <port>:<port>` (binds 127.0.0.1)."""
    return command_line(["kubectl", *kubectl_flags, "-n", namespace, "port-forward", f"svc/{service}", f"{port}:{port}"])
