#pragma once

// A real redis-server for a test: its own process on a free loopback port, its data (the AOF,
// written and fsynced on every write, as a deployment that must not lose ops runs it) in a
// temporary directory. kill() is SIGKILL; pause()/resume() are SIGSTOP/SIGCONT (a Redis that
// hangs with its socket open); start() again brings it back on the same port with whatever its
// directory holds, or with nothing after wipe().

#include <QDir>
#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <sys/types.h>

namespace scrawl::test {

class RedisProcess
{
public:
    RedisProcess() = default;
    ~RedisProcess() { kill(); }

    // Starts it and waits (up to 10 s) until it answers PING. False, with why in error(),
    // when it cannot run.
    bool start()
    {
        const QString exe = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
        if (exe.isEmpty()) {
            m_error = QStringLiteral("redis-server is not installed (scripts/deps installs it)");
            return false;
        }
        if (!m_dir.isValid()) {
            m_error = QStringLiteral("no temporary directory for Redis's data");
            return false;
        }
        // A port that was free a moment ago; a second try covers one taken in between.
        for (int attempt = 0; attempt < 3; ++attempt) {
            if (m_port == 0 || attempt > 0)
                m_port = freePort();
            m_process.setProgram(exe);
            m_process.setArguments({
                QStringLiteral("--port"), QString::number(m_port),
                QStringLiteral("--bind"), QStringLiteral("127.0.0.1"),
                QStringLiteral("--dir"), m_dir.path(),
                QStringLiteral("--appendonly"), QStringLiteral("yes"),
                QStringLiteral("--appendfsync"), QStringLiteral("always"),
                QStringLiteral("--save"), QString(),
                QStringLiteral("--daemonize"), QStringLiteral("no"),
                QStringLiteral("--logfile"), m_dir.filePath(QStringLiteral("redis.log")),
            });
            m_process.start();
            if (!m_process.waitForStarted(5000)) {
                m_error = m_process.errorString();
                continue;
            }
            if (waitForPing(10000))
                return true;
            kill();
        }
        m_error = QStringLiteral("redis-server did not answer on port %1; its log: %2").arg(m_port).arg(log());
        return false;
    }

    void kill()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        resume();
        m_process.kill();
        m_process.waitForFinished(5000);
    }
    void pause() { signal(SIGSTOP); }
    void resume() { signal(SIGCONT); }
    // Removes everything Redis stored (it must not be running): a Redis that comes back empty.
    void wipe()
    {
        QDir dir(m_dir.path());
        for (const QString &name : dir.entryList(QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot)) {
            if (name == QLatin1String("redis.log"))
                continue;
            QFileInfo info(dir.filePath(name));
            if (info.isDir())
                QDir(info.filePath()).removeRecursively();
            else
                dir.remove(name);
        }
    }

    quint16 port() const { return m_port; }
    QString url(int db = 0) const { return QStringLiteral("redis://127.0.0.1:%1/%2").arg(m_port).arg(db); }
    QString error() const { return m_error; }
    QString log() const
    {
        QFile f(m_dir.filePath(QStringLiteral("redis.log")));
        return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll().right(2000)) : QString();
    }

    // One command, sent blocking on a connection of its own (for a test's setup and checks).
    QByteArray call(const QList<QByteArray> &args, int timeoutMs = 5000) const
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_port);
        if (!socket.waitForConnected(timeoutMs))
            return {};
        QByteArray out = "*" + QByteArray::number(args.size()) + "\r\n";
        for (const QByteArray &a : args)
            out += "$" + QByteArray::number(a.size()) + "\r\n" + a + "\r\n";
        socket.write(out);
        socket.waitForBytesWritten(timeoutMs);
        QByteArray in;
        QElapsedTimer clock;
        clock.start();
        while (!in.endsWith("\r\n") && clock.elapsed() < timeoutMs) {
            if (socket.waitForReadyRead(100))
                in += socket.readAll();
        }
        return in;
    }

private:
    static quint16 freePort()
    {
        QTcpServer probe;
        probe.listen(QHostAddress::LocalHost, 0);
        return probe.serverPort();
    }

    bool waitForPing(int timeoutMs)
    {
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < timeoutMs && m_process.state() == QProcess::Running) {
            if (call({"PING"}, 500).startsWith("+PONG"))
                return true;
            m_process.waitForFinished(50); // returns at once if it exits; otherwise a short wait
        }
        return false;
    }

    void signal(int sig)
    {
        if (m_process.state() == QProcess::Running)
            ::kill(pid_t(m_process.processId()), sig);
    }

    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    QString m_error;
};

} // namespace scrawl::test
