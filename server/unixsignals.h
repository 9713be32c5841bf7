#pragma once

namespace scrawl {
// SIGINT and SIGTERM quit the application's event loop, so that destructors flush storage.
// (A signal handler may only write to a pipe: the notifier on its other end calls quit().)
void quitOnTerminationSignals();
} // namespace scrawl
