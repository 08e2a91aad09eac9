"""Strings of the Data page, and translations of tl_core dataset codes.

Each entry is key: (English, Simplified Chinese). `code.<code>` keys
translate tl_core.datasets notices (their params fill the placeholders);
`skip.<code>` keys are short labels for the codes of skipped files.
"""

STRINGS = {
    "data.title": ("Data", "数据"),
    "data.intro": (
        "A dataset is a zip with **one folder per class**, for example `cats/` and `dogs/`. "
        "Folders named `train/`, `val/` and `test/` keep your own split; otherwise the images "
        "are split 70 / 15 / 15 at random.",
        "数据集是一个 zip 压缩包，**每个类别一个文件夹**，例如 `cats/` 和 `dogs/`。"
        "如果包含 `train/`、`val/`、`test/` 文件夹，则沿用你的划分；否则按 70 / 15 / 15 随机划分。",
    ),
    "data.none_yet": (
        "No dataset loaded yet: upload a zip or use the sample.",
        "尚未加载数据集：请上传 zip 或使用示例数据。",
    ),
    "data.upload_label": ("Upload a zip (or .tar.gz) of class folders", "上传按类别分文件夹的 zip（或 .tar.gz）"),
    "data.upload_help": (
        "Images in JPEG, PNG, BMP, GIF, TIFF, WebP or HEIC. Unreadable files are skipped and listed below.",
        "支持 JPEG、PNG、BMP、GIF、TIFF、WebP、HEIC 图片。无法读取的文件会被跳过并在下方列出。",
    ),
    "data.upload_save_failed": (
        "Could not save the upload {name} on the server (disk full or not writable). "
        "Free some space and upload it again.",
        "无法在服务器上保存上传的文件 {name}（磁盘已满或不可写）。请释放空间后重新上传。",
    ),
    "data.loaded": ("Loaded {name}", "已加载 {name}"),
    "data.opening": ("Opening {name}…", "正在打开 {name}…"),
    "data.checking_images": ("Checking images of {name}: {done}/{total}", "正在检查 {name} 中的图片：{done}/{total}"),
    "data.open_failed": ("Could not open {name}: {message}", "无法打开 {name}：{message}"),
    "data.open_failed_unexpected": (
        "Could not open {name} because of an unexpected error. The server log has the details; "
        "check that the file is a zip of class folders.",
        "打开 {name} 时发生意外错误，详情见服务器日志。请确认该文件是按类别分文件夹的 zip。",
    ),
    "data.sample_title": ("Sample dataset", "示例数据集"),
    "data.sample_text": (
        "Fashion-MNIST, 5 classes × 100 grayscale images of 28 × 28 pixels.",
        "Fashion-MNIST，5 个类别 × 100 张 28 × 28 像素的灰度图。",
    ),
    "data.sample_button": ("Use the sample dataset", "使用示例数据集"),
    "data.metric_classes": ("Classes", "类别数"),
    "data.metric_images": ("Images", "图片数"),
    "data.metric_skipped": ("Skipped files", "跳过的文件"),
    "data.metric_split": ("Split", "划分方式"),
    "data.split_source.folders": ("from folders", "按文件夹"),
    "data.split_source.random": ("random", "随机"),
    "data.dataset_id": ("Dataset id: {id}", "数据集 ID：{id}"),
    "data.classes_title": ("Images per class", "各类别图片数"),
    "data.balance_title": ("Class balance", "类别分布"),
    "data.column.class": ("class", "类别"),
    "data.column.total": ("total", "合计"),
    "data.column.file": ("file", "文件"),
    "data.column.problem": ("problem", "问题"),
    "data.column.details": ("details", "详情"),
    "data.examples_title": ("Examples", "示例图片"),
    "data.examples_pick": ("Classes to show", "要显示的类别"),
    "data.thumbnail_failed": ("cannot show this image", "无法显示此图片"),
    "data.skipped_title": ("Skipped files ({count})", "跳过的文件（{count}）"),

    # Notices from tl_core.datasets
    "code.empty_class": ("Ignored class folders without images: {classes}.", "已忽略没有图片的类别文件夹：{classes}。"),
    "code.split_carved": (
        "No {split} folder was found, so {count} images were moved from train to {split}.",
        "未找到 {split} 文件夹，因此从训练集中移出了 {count} 张图片作为 {split}。",
    ),
    "code.missing_in_split": ("Class {class} has no images in {splits}.", "类别 {class} 在 {splits} 中没有图片。"),
    "code.duplicate_in_class": (
        "{count} group(s) of identical files within one class; the copies add no information.",
        "同一类别中有 {count} 组完全相同的文件；这些副本不提供额外信息。",
    ),
    "code.duplicate_across_classes": (
        "{count} group(s) of identical files in different classes (contradictory labels); "
        "keep each image in one class only.",
        "不同类别中有 {count} 组完全相同的文件（标签相互矛盾）；每张图片只应属于一个类别。",
    ),
    "code.duplicate_across_splits": (
        "{count} group(s) of identical files in different splits (leakage: test accuracy will "
        "look better than it is); remove the copies from val or test.",
        "不同划分中有 {count} 组完全相同的文件（数据泄漏：测试准确率会虚高）；"
        "请从验证集或测试集中删除这些副本。",
    ),
    "code.imbalance": (
        "Classes are imbalanced: {max_class} has {max_count} images and {min_class} has {min_count}.",
        "类别不平衡：{max_class} 有 {max_count} 张图片，而 {min_class} 只有 {min_count} 张"
        "（相差 {ratio} 倍）。准确率可能看起来不错，但小类别大多被分错；请补充图片或使用类别权重。",
    ),
    "code.tiny_class": (
        "Classes with fewer than {threshold} images: {classes}. Results on them will be unreliable.",
        "以下类别的图片少于 {threshold} 张：{classes}。它们的结果不可靠。",
    ),
    "code.loose_files": (
        "{count} image(s) lie outside any class folder and were skipped.",
        "有 {count} 张图片不在任何类别文件夹中，已跳过。",
    ),

    "code.nested_archive_opened": (
        "The upload held only the archive {path}, so that archive was opened instead.",
        "上传的压缩包里只有压缩包 {path}，因此改为打开它。",
    ),
    "code.small_images": (
        "{count} image(s) are smaller than {min_side} pixels on a side and will look blurry when enlarged.",
        "有 {count} 张图片的边长小于 {min_side} 像素，放大后会很模糊。",
    ),
    "code.extreme_aspect_ratio": (
        "{count} image(s) are more than {max_ratio} times wider than tall (or the reverse); "
        "squashing them to a square distorts them.",
        "有 {count} 张图片的宽高比超过 {max_ratio} 倍；缩放成正方形时会严重变形。",
    ),

    # Errors from tl_core.archive and tl_core.datasets; their params fill the placeholders.
    "code.archive_not_found": ("Archive {name} was not found.", "找不到压缩包 {name}。"),
    "code.upload_too_large": (
        "{name} is larger than the upload limit. Use fewer or smaller images, or split the dataset.",
        "{name} 超过了上传大小上限。请减少图片数量或缩小图片，或把数据集拆成几个压缩包。",
    ),
    "code.too_many_entries": (
        "{name} contains {count} entries, more than the limit of {max_files}. Split the dataset into smaller archives.",
        "{name} 含有 {count} 个条目，超过上限 {max_files}。请把数据集拆成几个较小的压缩包。",
    ),
    "code.too_large": (
        "{name} expands to more than the limit of {max_bytes} bytes. Use fewer or smaller images.",
        "{name} 解压后超过 {max_bytes} 字节的上限。请减少图片数量或缩小图片。",
    ),
    "code.compression_ratio": (
        "{name} expands {ratio} times, more than the limit of {max_ratio}; this is typical of a zip bomb.",
        "{name} 解压后膨胀 {ratio} 倍，超过上限 {max_ratio}；这是“压缩炸弹”的典型特征。",
    ),
    "code.write_failed": (
        "Could not write the files of {name}: {detail}. Free disk space and try again.",
        "无法写入 {name} 中的文件：{detail}。请释放磁盘空间后重试。",
    ),
    "code.damaged_archive": (
        "{name} is damaged ({detail}). Create the archive again and upload it.",
        "{name} 已损坏（{detail}）。请重新压缩后再上传。",
    ),
    "code.unsupported_archive_format": (
        "{name} is a {format} archive, which is not supported. Re-pack it as .zip or .tar.gz.",
        "{name} 是 {format} 格式的压缩包，不受支持。请重新打包为 .zip 或 .tar.gz。",
    ),
    "code.empty_archive": ("{name} is empty.", "{name} 是空的。"),
    "code.not_an_archive": (
        "{name} is not a zip or tar archive. Compress the class folders into a .zip and upload that.",
        "{name} 不是 zip 或 tar 压缩包。请把各类别文件夹压缩成 .zip 后上传。",
    ),
    "code.encrypted_archive": (
        "{name} is password-protected (entry {entry}). Create it again without a password.",
        "{name} 设有密码（条目 {entry}）。请不加密码重新压缩。",
    ),
    "code.unsupported_compression": (
        "{name} uses a compression method that cannot be read (entry {entry}). Create it again with standard zip compression.",
        "{name} 使用了无法读取的压缩方式（条目 {entry}）。请用标准 zip 压缩方式重新压缩。",
    ),
    "code.source_not_found": ("Dataset {name} was not found.", "找不到数据集 {name}。"),
    "code.too_few_classes": (
        "{name} has {classes} as class folders; at least {min_classes} class folders with images are needed, "
        "one sub-folder per class.",
        "{name} 中的类别文件夹为：{classes}；至少需要 {min_classes} 个含有图片的类别文件夹，每个类别一个子文件夹。",
    ),
    "code.too_few_images": (
        "Class {class} has {count} usable image(s); each class needs at least {min_images}. Add images or remove the class.",
        "类别 {class} 只有 {count} 张可用图片；每个类别至少需要 {min_images} 张。请补充图片或删除该类别。",
    ),

    # Short labels for the codes of skipped files
    "skip.system_file": ("system file", "系统文件"),
    "skip.hidden": ("hidden", "隐藏文件"),
    "skip.symlink": ("symbolic link", "符号链接"),
    "skip.hardlink": ("hard link", "硬链接"),
    "skip.special_file": ("not a regular file", "非普通文件"),
    "skip.unsupported_type": ("unsupported file type", "不支持的文件类型"),
    "skip.loose_file": ("outside a class folder", "不在类别文件夹中"),
    "skip.extra_folder": ("extra folder", "多余的文件夹"),
    "skip.unsafe_path": ("unsafe path", "不安全的路径"),
    "skip.duplicate_entry": ("duplicate name in archive", "压缩包内重名"),
    "skip.corrupt_entry": ("damaged in archive", "压缩包内已损坏"),
    "skip.unreadable": ("unreadable", "无法读取"),
    "skip.missing": ("missing", "文件不存在"),
    "skip.empty_file": ("empty file", "空文件"),
    "skip.not_image": ("not an image", "不是图片"),
    "skip.too_large": ("too many pixels", "像素过多"),
    "skip.truncated": ("truncated", "文件不完整"),
    "skip.corrupt": ("damaged image data", "图片数据损坏"),
    "skip.unsupported_mode": ("unsupported pixel mode", "不支持的像素模式"),
    "skip.invalid_name": ("invalid file name", "无效的文件名"),
    "skip.nested_archive": ("archive inside the archive", "压缩包内的压缩包"),
    "skip.unsupported_format": ("unsupported image format", "不支持的图片格式"),
}
