#pragma once

// The text notes on the wall as the person sees them: the stored notes with this client's own
// not-yet-acknowledged note changes already applied, so that editing feels instant. Rows are
// updated in place (never reset while editing) so that a note being typed in keeps its focus.

#include <QAbstractListModel>
#include <QColor>
#include <QtQml/qqmlregistration.h>

#include <cstdint>
#include <vector>

namespace scrawl {

class NotesModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("NotesModel belongs to a WallClient")

public:
    enum Role {
        KeyRole = Qt::UserRole + 1, // "noteKey": the note's wall key, as text (QString)
        XRole,                      // "noteX": wall x of the top-left corner (double)
        YRole,                      // "noteY": wall y of the top-left corner (double)
        TextRole,                   // "noteText": the text (QString)
        ColorRole,                  // "noteColor": its colour (QColor; the author's at first)
        MineRole,                   // "mine": this user's note (bool)
        PendingRole,                // "pending": a change to it is not stored yet (bool)
        WidthRole,                  // "noteWidth": wall px, 0 for the default (double)
        HeightRole,                 // "noteHeight": least height in wall px, 0: its text's (double)
        LayerRole,                  // "noteLayer": notes on a higher layer lie over (int)
    };
    Q_ENUM(Role)

    struct Note
    {
        std::uint64_t key = 0;
        double x = 0, y = 0;
        QString text;
        QColor color;
        double width = 0, height = 0;
        int layer = 0;
        bool mine = false;
        bool pending = false;
        friend bool operator==(const Note &, const Note &) = default;
    };

    explicit NotesModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void reset(std::vector<Note> notes);
    // Inserts, updates or (with visible == false) removes one note.
    void update(std::uint64_t key, const Note *note);
    const std::vector<Note> &notes() const { return m_notes; }
    int rowOf(std::uint64_t key) const;

private:
    std::vector<Note> m_notes;
};

} // namespace scrawl
