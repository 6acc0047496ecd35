"""Enforcement out: carry out ``EnforcementRequested`` commands on the chat platforms.

Layout (pure first, IO at the edge):

- ``calls``      the vocabulary: a planned ``PlatformCall``, ``Unsupported``/``Invalid`` refusals, the
                 classified ``Reply`` of one attempt, and the ``RetryPolicy``;
- ``onebot``, ``dingtalk``, ``wecom``, ``feishu``: one module per platform, each with a pure
                 ``plan(command)`` and ``interpret(status, body)`` and a small client that does the HTTP;
- ``executor``   runs one command: plan → attempts with exponential backoff → the outcome payload;
- ``handlers``   the worker handler and ``ROUTES``.

Delivery is **at least once**. The platform call happens inside the handler's transaction: the inbox
stops a repeat once the transaction commits, but a crash after the call and before the commit repeats
the call on redelivery. Mute, kick and recall are idempotent on every platform (muting twice sets the
same end time, removing a removed member or recalling a recalled message fails harmlessly); a notice may
be posted twice, except on Feishu where the command id is passed as the ``uuid`` dedupe key.
"""
