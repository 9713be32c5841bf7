#pragma once

// The wall's history as a timeline: a slider under the wall from its first change to now that
// shows the wall as it was after any one of them, with when and by whom, and plays it back at 1x
// to 32x. The live wall goes on meanwhile; closing the timeline returns to it.
//
// The past is fetched from the server in pages (pb::OpsRequest) and replayed through the same
// WallModel code every client runs (core/wallhistory.h), into `past`: a WallClient of its own,
// never connected and read only, that the wall's canvas, notes and images show while the
// timeline is open. Export works on what is shown, and copyToNewWall makes a new wall that starts
// as the wall was at that point (restoring an old version without destroying the present).
//
// How far back it reaches: a server on SQLite keeps every op, so from the wall's first change; a
// cluster keeps the ops after a snapshot kept for this (at least cluster_log_keep_ops back), and
// the timeline starts from that snapshot (reachText says so).

#include "app/wallclient.h"
#include "core/wallhistory.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

#include <map>
#include <optional>

namespace scrawl {

class Timeline : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    // The wall whose past this is (the live client).
    Q_PROPERTY(scrawl::WallClient *client READ client WRITE setClient NOTIFY clientChanged)
    // What the view shows while the timeline is open and ready.
    Q_PROPERTY(scrawl::WallClient *past READ past CONSTANT)
    Q_PROPERTY(bool open READ isOpen NOTIFY openChanged)
    // The history is in (up to where the wall was when the timeline opened): the slider works.
    Q_PROPERTY(bool ready READ ready NOTIFY loadedChanged)
    Q_PROPERTY(double loaded READ loadedFraction NOTIFY loadedChanged) // 0..1 while fetching
    Q_PROPERTY(double firstSeq READ firstSeqValue NOTIFY loadedChanged)
    Q_PROPERTY(double lastSeq READ lastSeqValue NOTIFY loadedChanged)
    Q_PROPERTY(double position READ positionValue WRITE setPositionValue NOTIFY positionChanged)
    Q_PROPERTY(QString timeText READ timeText NOTIFY positionChanged)
    Q_PROPERTY(QString authorsText READ authorsText NOTIFY positionChanged)
    // How far back history reaches, in a sentence.
    Q_PROPERTY(QString reachText READ reachText NOTIFY loadedChanged)
    Q_PROPERTY(QString errorText READ errorText NOTIFY loadedChanged)
    Q_PROPERTY(bool playing READ playing NOTIFY playingChanged)
    Q_PROPERTY(int speed READ speed WRITE setSpeed NOTIFY speedChanged) // 1, 2, 4, 8, 16 or 32

public:
    explicit Timeline(QObject *parent = nullptr);
    ~Timeline() override;

    WallClient *client() const { return m_client; }
    void setClient(WallClient *client);
    WallClient *past() const { return m_past; }
    bool isOpen() const { return m_open; }
    bool ready() const { return m_ready; }
    double loadedFraction() const;
    double firstSeqValue() const { return double(m_history.firstSeq()); }
    double lastSeqValue() const { return double(m_history.lastSeq()); }
    std::uint64_t position() const { return m_position; }
    double positionValue() const { return double(m_position); }
    void setPositionValue(double seq) { setPosition(seq <= 0 ? 0 : std::uint64_t(seq + 0.5)); }
    void setPosition(std::uint64_t seq);
    QString timeText() const;
    QString authorsText() const;
    QString reachText() const;
    QString errorText() const { return m_error; }
    bool playing() const { return m_playTimer.isActive(); }
    int speed() const { return m_speed; }
    void setSpeed(int speed);
    const WallHistory &history() const { return m_history; }
    // The seq `past` shows now (position() once the step has been drawn).
    std::uint64_t shownSeq() const { return m_past->model().seq(); }

    // Opens the timeline: fetches the wall's past and shows it as it is now, ready to scrub.
    Q_INVOKABLE void show();
    // Back to the live wall.
    Q_INVOKABLE void close();
    Q_INVOKABLE void play();
    Q_INVOKABLE void pause();
    // A few changes back or on (the arrow keys).
    Q_INVOKABLE void stepBy(int ops);
    // A new wall `name` on the same server, starting as the wall is shown now: the app goes to
    // it and places a copy of everything visible, where it was. False (errorText says why) when
    // it cannot start.
    Q_INVOKABLE bool copyToNewWall(const QString &name);

    // Pages of this many ops are asked for (the server may send fewer: max_ops_page_bytes);
    // tests ask for smaller ones.
    static constexpr std::uint32_t kPageOps = 10000;
    void setPageOps(std::uint32_t ops) { m_pageOps = std::max<std::uint32_t>(1, ops); }
    // A page refused (max_history_requests_per_minute) is asked for again after this long; one
    // not answered at all, after the longer wait.
    static constexpr int kRefusedWaitMs = 1500;
    static constexpr int kPageWaitMs = 10000;
    // Playing: a pause between changes lasts at most this long at 1x, and a change without a
    // time of its own (a stroke's later points) takes this long.
    static constexpr int kMaxPlayGapMs = 1000;
    static constexpr int kPlayStepMs = 8;

signals:
    void clientChanged();
    void openChanged();
    void loadedChanged();
    void positionChanged();
    void playingChanged();
    void speedChanged();

private:
    void requestPage();
    void onPage(const pb::OpsPage &page);
    void onOpLanded(const pb::Op &op);
    void onJoined();
    void finishLoading();
    void fail(const QString &error);
    // Shows m_position on `past`: by applying the ops on for a short step forward, else from the
    // history's copy of the wall at that point.
    void showPosition();
    void playTick();
    QString nameOf(std::uint64_t author) const;

    QPointer<WallClient> m_client;
    WallClient *m_past = nullptr;
    WallHistory m_history;
    bool m_open = false;
    bool m_ready = false;
    bool m_asked = false;         // a page is on its way
    std::uint64_t m_target = 0;   // the wall's seq when the timeline opened: loaded up to it
    std::uint64_t m_headSeq = 0;  // the server's, from the last page
    bool m_fromBase = false;      // history starts at a kept snapshot, not the first change
    std::uint64_t m_position = 0;
    bool m_showScheduled = false;
    QString m_error;
    std::map<std::uint64_t, QString> m_names; // authors' names, from chat in the history
    QTimer m_retry;
    QTimer m_playTimer;
    QElapsedTimer m_playClock;
    double m_playBudgetMs = 0;
    int m_speed = 1;
    std::uint32_t m_pageOps = kPageOps;
    // copyToNewWall under way: the wall, what goes on it, and from when
    QString m_copyWall;
    pb::WallSnapshot m_copyClip;
    QString m_copyWhen;
};

} // namespace scrawl
