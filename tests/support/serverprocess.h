#pragma once

// A real scrawl-server process on 127.0.0.1, port 0: start() waits for its "listening on" line;
// kill9() kills it with SIGKILL (no flush, no clean shutdown). Its data folder is the one
// given (so that a test can start it again on the same data) or a temporary one of its own.
// SCRAWL_SERVER_BIN is the server's path (the test's compile definition).

#include "tests/support/testclient.h"

#include <QProcess>
#include <QRegularExpression>
#include <QStringList>
#include <QTemporaryDir>
#include <QUrl>

namespace scrawl::test {

class ServerProcess
{
public:
    explicit ServerProcess(QString dataDir = {}, QStringList extraArguments = {})
        : m_dataDir(dataDir.isEmpty() ? m_ownDir.path() : std::move(dataDir))
        , m_extra(std::move(extraArguments))
    {
    }
    ~ServerProcess() { kill9(); }

    bool start()
    {
        m_port = 0;
        m_out.clear();
        m_process.setProgram(QStringLiteral(SCRAWL_SERVER_BIN));
        m_process.setArguments(QStringList{QStringLiteral("--host"), QStringLiteral("127.0.0.1"),
                                           QStringLiteral("--port"), QStringLiteral("0"),
                                           QStringLiteral("--data"), m_dataDir}
                               + m_extra);
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process.start();
        if (!m_process.waitForStarted(5000))
            return false;
        static const QRegularExpression line(QStringLiteral("^listening on ws://127\\.0\\.0\\.1:(\\d+)$"),
                                             QRegularExpression::MultilineOption);
        return TestClient::waitFor([&] {
            m_out += m_process.readAllStandardOutput();
            const auto m = line.match(QString::fromUtf8(m_out));
            if (m.hasMatch())
                m_port = quint16(m.captured(1).toUInt());
            return m_port != 0 || m_process.state() == QProcess::NotRunning;
        }, 10000) && m_port != 0;
    }

    void kill9()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.kill();
        m_process.waitForFinished(5000);
    }

    quint16 port() const { return m_port; }
    QUrl url() const { return QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(m_port)); }
    QProcess &process() { return m_process; }

private:
    QTemporaryDir m_ownDir;
    QString m_dataDir;
    QStringList m_extra;
    QProcess m_process;
    QByteArray m_out;
    quint16 m_port = 0;
};

} // namespace scrawl::test
