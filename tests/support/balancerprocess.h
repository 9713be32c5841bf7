#pragma once

// A real load balancer in front of scrawl-servers, started from the configuration the project
// ships (deploy/haproxy.cfg, deploy/nginx.conf) on a free loopback port, its files in a temp
// dir. SCRAWL_SOURCE_DIR is the source tree (the test's compile definition).

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>
#include <QUrl>

#include <vector>

namespace scrawl::test {

class BalancerProcess
{
public:
    enum class Kind { HAProxy, Nginx };

    explicit BalancerProcess(Kind kind)
        : m_kind(kind)
    {
    }
    ~BalancerProcess() { stop(); }

    // In front of the servers on these ports (three: the shipped configurations name three).
    bool start(const std::vector<quint16> &servers)
    {
        if (servers.size() != 3) {
            m_error = QStringLiteral("the shipped configurations name three servers");
            return false;
        }
        QTcpServer probe;
        probe.listen(QHostAddress::LocalHost, 0);
        m_port = probe.serverPort();
        probe.close();
        if (m_kind == Kind::HAProxy) {
            // The shipped file as it is: its addresses come from the environment.
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("SCRAWL_BIND"), QStringLiteral("127.0.0.1:%1").arg(m_port));
            for (size_t i = 0; i < servers.size(); ++i)
                env.insert(QStringLiteral("SCRAWL_SERVER_%1").arg(i + 1), QStringLiteral("127.0.0.1:%1").arg(servers[i]));
            m_process.setProcessEnvironment(env);
            m_process.setProgram(QStringLiteral("haproxy"));
            m_process.setArguments({QStringLiteral("-db"), QStringLiteral("-f"),
                                    QStringLiteral(SCRAWL_SOURCE_DIR "/deploy/haproxy.cfg")});
        } else {
            // The shipped file with its example addresses replaced.
            QFile shipped(QStringLiteral(SCRAWL_SOURCE_DIR "/deploy/nginx.conf"));
            if (!shipped.open(QIODevice::ReadOnly)) {
                m_error = QStringLiteral("cannot read deploy/nginx.conf");
                return false;
            }
            QString conf = QString::fromUtf8(shipped.readAll());
            conf.replace(QStringLiteral("listen 127.0.0.1:7777;"), QStringLiteral("listen 127.0.0.1:%1;").arg(m_port));
            for (size_t i = 0; i < servers.size(); ++i)
                conf.replace(QStringLiteral("server 127.0.0.1:%1 ").arg(7781 + i),
                             QStringLiteral("server 127.0.0.1:%1 ").arg(servers[i]));
            QFile out(m_dir.filePath(QStringLiteral("nginx.conf")));
            if (!out.open(QIODevice::WriteOnly) || out.write(conf.toUtf8()) < 0) {
                m_error = QStringLiteral("cannot write nginx.conf");
                return false;
            }
            out.close();
            m_process.setProgram(QStringLiteral("nginx"));
            m_process.setArguments({QStringLiteral("-e"), QStringLiteral("stderr"), QStringLiteral("-p"),
                                    m_dir.path() + QLatin1Char('/'), QStringLiteral("-c"), out.fileName(),
                                    QStringLiteral("-g"), QStringLiteral("daemon off;")});
        }
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.start();
        if (!m_process.waitForStarted(5000)) {
            m_error = QStringLiteral("%1 did not start: %2").arg(m_process.program(), m_process.errorString());
            return false;
        }
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < 10000 && m_process.state() == QProcess::Running) {
            QTcpSocket s;
            s.connectToHost(QHostAddress::LocalHost, m_port);
            if (s.waitForConnected(200))
                return true;
            QThread::msleep(50); // polling a port another process opens: nothing to wait on
        }
        m_error = QStringLiteral("%1 did not listen on %2: %3")
                      .arg(m_process.program())
                      .arg(m_port)
                      .arg(QString::fromUtf8(m_process.readAll()));
        return false;
    }

    void stop()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.terminate();
        if (!m_process.waitForFinished(5000)) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    QUrl url() const { return QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(m_port)); }
    QString error() const { return m_error; }
    QString output() { return QString::fromUtf8(m_process.readAll()); }

private:
    Kind m_kind;
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    QString m_error;
};

} // namespace scrawl::test
