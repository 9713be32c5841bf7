#pragma once

// A real WebSocket client for end-to-end tests: speaks the protocol through core/, keeps every
// envelope it receives, and offers small helpers for the usual steps. Waits use QTRY_*.

#include "core/limits.h"
#include "core/points.h"
#include "core/protocol.h"
#include "core/wallmodel.h"

#include <QObject>
#include <QSignalSpy>
#include <QTest>
#include <QUrl>
#include <QWebSocket>

#include <vector>

namespace scrawl::test {

class TestClient : public QObject
{
    Q_OBJECT

public:
    explicit TestClient(QObject *parent = nullptr)
        : QObject(parent)
    {
        m_socket.setMaxAllowedIncomingMessageSize(limits::kClientMaxIncomingBytes);
        m_socket.setMaxAllowedIncomingFrameSize(limits::kClientMaxIncomingBytes);
        connect(&m_socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &b) {
            pb::Envelope env;
            if (!parse(b, &env)) {
                ++unparsable;
                return;
            }
            if (env.has_welcome()) {
                userId = env.welcome().user_id();
                resumeToken = env.welcome().resume_token();
            } else if (env.has_joined()) {
                const auto &j = env.joined();
                if (j.has_snapshot()) {
                    model = WallModel();
                    model.load(j.snapshot());
                }
                for (const auto &op : j.ops())
                    applyOp(op);
            } else if (env.has_op()) {
                // A stroke's points and end come unnumbered: the op after the last, as the app
                // numbers them (WallClient::onBinary).
                if (env.op().seq() == 0)
                    env.mutable_op()->set_seq(model.seq() + 1);
                applyOp(env.op());
            }
            received.push_back(std::move(env));
        });
        connect(&m_socket, &QWebSocket::disconnected, this, [this] {
            closeCode = int(m_socket.closeCode());
            closeReason = m_socket.closeReason();
            ++disconnects;
        });
    }

    QWebSocket &socket() { return m_socket; }

    bool open(const QUrl &url)
    {
        QSignalSpy connected(&m_socket, &QWebSocket::connected);
        m_socket.open(url);
        return connected.wait(5000) || m_socket.state() == QAbstractSocket::ConnectedState;
    }

    void sendEnvelope(const pb::Envelope &env) { m_socket.sendBinaryMessage(serialize(env)); }

    void sendHello(const QString &name, std::uint32_t protocol = kProtocolVersion,
                   const std::string &token = {})
    {
        pb::Envelope env;
        auto *h = env.mutable_hello();
        h->set_protocol_version(protocol);
        h->set_app_version(kAppVersion);
        h->set_display_name(toWire(name));
        h->set_color(0x3366cc);
        h->set_resume_token(token);
        sendEnvelope(env);
    }

    // Connects, says Hello and waits for Welcome.
    bool connectAs(const QUrl &url, const QString &name, const std::string &token = {})
    {
        if (!open(url))
            return false;
        const size_t before = count(pb::Envelope::kWelcome);
        sendHello(name, kProtocolVersion, token);
        return waitFor([&] { return count(pb::Envelope::kWelcome) > before; });
    }

    bool join(const QString &wall, std::uint64_t lastSeq = 0)
    {
        const size_t before = count(pb::Envelope::kJoined);
        pb::Envelope env;
        env.mutable_join()->set_wall(toWire(wall));
        env.mutable_join()->set_last_seq(lastSeq);
        sendEnvelope(env);
        return waitFor([&] { return count(pb::Envelope::kJoined) > before; });
    }

    std::uint64_t sendOp(pb::Op op)
    {
        if (op.client_op_id() == 0)
            op.set_client_op_id(++nextClientOpId);
        pb::Envelope env;
        *env.mutable_op() = op;
        sendEnvelope(env);
        return op.client_op_id();
    }

    std::uint64_t chat(const QString &text)
    {
        pb::Op op;
        op.mutable_chat()->set_text(toWire(text));
        return sendOp(op);
    }

    // Begins, extends and ends a stroke of `points` (in pixels) in `batches` messages.
    std::vector<std::uint64_t> stroke(std::uint32_t id, const std::vector<QPointF> &points,
                                      int batches = 1)
    {
        std::vector<std::uint64_t> ids;
        std::vector<FixedPoint> fixed;
        for (const QPointF &p : points)
            fixed.push_back(toFixed(p));
        const size_t per = (fixed.size() + size_t(batches) - 1) / size_t(batches);
        for (size_t i = 0; i < fixed.size(); i += per) {
            std::vector<FixedPoint> part(fixed.begin() + long(i),
                                         fixed.begin() + long(std::min(fixed.size(), i + per)));
            pb::Op op;
            if (i == 0) {
                auto *b = op.mutable_stroke_begin();
                b->set_id(id);
                b->set_color(0xff0000);
                b->set_width(3);
                encodePoints(part, {}, b);
            } else {
                auto *b = op.mutable_stroke_points();
                b->set_id(id);
                encodePoints(part, tailOf(fixed, i), b);
            }
            ids.push_back(sendOp(op));
        }
        pb::Op end;
        end.mutable_stroke_end()->set_id(id);
        ids.push_back(sendOp(end));
        return ids;
    }

    // True once the op with this client op id came back acknowledged.
    bool acked(std::uint64_t clientOpId) const
    {
        for (const auto &env : received) {
            if (env.has_op() && env.op().author() == userId && env.op().client_op_id() == clientOpId)
                return true;
        }
        return false;
    }

    const pb::Error *lastError() const
    {
        for (auto it = received.rbegin(); it != received.rend(); ++it) {
            if (it->has_error())
                return &it->error();
        }
        return nullptr;
    }

    size_t count(pb::Envelope::MsgCase kind) const
    {
        return size_t(std::count_if(received.begin(), received.end(),
                                    [kind](const pb::Envelope &e) { return e.msg_case() == kind; }));
    }

    const pb::Joined *lastJoined() const
    {
        for (auto it = received.rbegin(); it != received.rend(); ++it) {
            if (it->has_joined())
                return &it->joined();
        }
        return nullptr;
    }

    // The newest page of the wall's past ops received (other traffic may have come after it).
    const pb::OpsPage *lastOpsPage() const
    {
        for (auto it = received.rbegin(); it != received.rend(); ++it) {
            if (it->has_ops_page())
                return &it->ops_page();
        }
        return nullptr;
    }

    std::vector<pb::Op> ops() const
    {
        std::vector<pb::Op> out;
        for (const auto &env : received) {
            if (env.has_op())
                out.push_back(env.op());
        }
        return out;
    }

    template <typename Pred>
    static bool waitFor(Pred pred, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!pred()) {
            if (deadline.hasExpired())
                return false;
            QTest::qWait(5);
        }
        return true;
    }

    std::vector<pb::Envelope> received;
    WallModel model;
    std::uint64_t userId = 0;
    std::string resumeToken;
    std::uint64_t nextClientOpId = 0;
    int closeCode = -1;
    QString closeReason;
    int disconnects = 0;
    int unparsable = 0;

private:
    void applyOp(const pb::Op &op) { model.apply(op); }

    QWebSocket m_socket;
};

} // namespace scrawl::test
