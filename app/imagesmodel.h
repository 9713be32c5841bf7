#pragma once

// The images on the wall as QML sees them: where each is, whose it is and whether its pixels are
// here yet. The pixels themselves are painted into the canvas's tiles (under the ink); QML draws
// over each image only what it needs: a placeholder with a progress bar while it loads, why it
// failed, and the delete button on hover.

#include <QAbstractListModel>
#include <QString>
#include <QtQml/qqmlregistration.h>

#include <cstdint>
#include <vector>

namespace scrawl {

class ImagesModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ImagesModel belongs to a WallClient")

public:
    enum Role {
        KeyRole = Qt::UserRole + 1, // "imageKey": its wall key, as text
        XRole,                      // "imageX", "imageY": wall px of the top-left corner
        YRole,
        WidthRole,                  // "imageWidth", "imageHeight": wall px
        HeightRole,
        MineRole,                   // "mine": placed by this user
        LoadedRole,                 // "loaded": its pixels are drawn
        ProgressRole,               // "progress": 0..1 while loading
        ErrorRole,                  // "error": why it is not shown (empty while loading or shown)
        RotationRole,               // "imageRotation": degrees, clockwise, about the top-left
    };
    Q_ENUM(Role)

    struct Image
    {
        std::uint64_t key = 0;
        QByteArray hash;
        double x = 0, y = 0, width = 0, height = 0;
        bool mine = false;
        bool loaded = false;
        double progress = 0;
        QString error;
        double rotation = 0; // radians
        friend bool operator==(const Image &, const Image &) = default;
    };

    explicit ImagesModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void reset(std::vector<Image> images);
    // Inserts, updates or (null) removes one image.
    void update(std::uint64_t key, const Image *image);
    const std::vector<Image> &images() const { return m_images; }
    int rowOf(std::uint64_t key) const;

private:
    std::vector<Image> m_images;
};

} // namespace scrawl
