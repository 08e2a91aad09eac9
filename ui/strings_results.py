"""Texts of the Compare and Predict pages: {key: (English, Simplified Chinese)}."""

STRINGS = {
    # Shared by both pages
    "results.go_train": ("Go to Train", "前往训练页"),

    # Compare page
    "compare.title": ("Compare runs", "比较训练结果"),
    "compare.no_runs": (
        "No finished runs yet. Train a model first; its curves, metrics and "
        "confusion matrix will appear here.",
        "还没有完成的训练。请先训练一个模型，它的曲线、指标和混淆矩阵会显示在这里。",
    ),
    "compare.pick_runs": ("Runs to compare", "要比较的训练"),
    "compare.pick_prompt": ("Pick one or more runs above.", "请在上方选择一个或多个训练。"),
    "compare.run_failed": ("Run {run} failed: {error}", "训练 {run} 失败：{error}"),
    "compare.no_error_text": ("no error message was recorded", "没有记录错误信息"),
    "compare.curves": ("Training curves", "训练曲线"),
    "compare.loss_title": ("Loss (solid: train, dashed: validation)", "损失（实线：训练，虚线：验证）"),
    "compare.accuracy_title": (
        "Accuracy (solid: train, dashed: validation)", "准确率（实线：训练，虚线：验证）",
    ),
    "compare.no_epochs": (
        "None of the chosen runs finished an epoch, so there are no curves.",
        "所选训练都没有完成任何一个轮次（epoch），因此没有曲线。",
    ),
    "compare.table": ("Metrics", "指标"),
    "compare.table_hint": (
        "Click a column header to sort. Test accuracy is measured on the test split, "
        "which no run trained or chose its best epoch on.",
        "点击列标题即可排序。测试准确率在测试集上计算，训练和选择最佳轮次时都没有用到测试集。",
    ),
    "compare.col.run": ("Run", "训练"),
    "compare.col.status": ("Status", "状态"),
    "compare.col.backbone": ("Backbone", "主干网络"),
    "compare.col.mode": ("Mode", "模式"),
    "compare.col.trainable_params": ("Trainable params", "可训练参数"),
    "compare.col.total_params": ("Total params", "总参数"),
    "compare.col.image_size": ("Image size", "图像尺寸"),
    "compare.col.epochs": ("Epochs", "轮次"),
    "compare.col.best_val_accuracy": ("Best val. accuracy", "最佳验证准确率"),
    "compare.col.test_accuracy": ("Test accuracy", "测试准确率"),
    "compare.col.train_seconds": ("Train time", "训练用时"),
    "compare.col.images_per_second": ("Training images/s", "训练速度（图像/秒）"),
    "compare.col.images_per_second_help": (
        "Training images per second in epochs after the first. With cached features the head "
        "trains on stored features instead of images, so this is far above the backbone's speed: "
        "see the feature extraction time.",
        "第 1 轮之后每秒训练的图像数。使用缓存特征时，分类头直接在保存的特征上训练，不再处理图像，"
        "所以这个数字远高于主干网络的速度：请看特征提取用时。",
    ),
    "compare.col.feature_seconds": ("Feature extraction", "特征提取用时"),
    "compare.col.feature_seconds_help": (
        "Seconds the backbone took to compute the features of every image once. "
        "Close to 0 when the features came from the cache of an earlier run.",
        "主干网络为每张图像计算一次特征所用的秒数。如果特征来自之前训练的缓存，则接近 0。",
    ),
    "compare.col.model_size_mb": ("Model size", "模型大小"),
    "compare.col.feature_cache": ("Feature cache", "特征缓存"),
    "compare.confusion": ("Confusion matrices (test split)", "混淆矩阵（测试集）"),
    "compare.confusion_hint": (
        "Rows are the true classes, columns the predicted ones. Numbers are image counts; "
        "the colour is the share of each true class.",
        "行是真实类别，列是预测类别。数字是图像数量，颜色表示占该真实类别的比例。",
    ),
    "compare.confusion_hover": (
        "true: %{y}<br>predicted: %{x}<br>images: %{text}<br>share of row: %{z:.0%}",
        "真实：%{y}<br>预测：%{x}<br>图像数：%{text}<br>占该行比例：%{z:.0%}",
    ),
    "compare.true": ("True class", "真实类别"),
    "compare.predicted": ("Predicted class", "预测类别"),
    "compare.no_confusion": (
        "{run} has no confusion matrix (it stopped before testing).",
        "{run} 没有混淆矩阵（在测试之前就停止了）。",
    ),
    "compare.misclassified": ("Misclassified test images", "分类错误的测试图像"),
    "compare.no_predictions": (
        "This run has no test predictions (it stopped before testing).",
        "该训练没有测试预测结果（在测试之前就停止了）。",
    ),
    "compare.none_wrong": (
        "All {total} test images are classified correctly.", "全部 {total} 张测试图像都分类正确。",
    ),
    "compare.wrong_count": (
        "{wrong} of {total} test images are misclassified.", "{total} 张测试图像中有 {wrong} 张分类错误。",
    ),
    "compare.showing_most_confident": (
        "Showing the {shown} most confident mistakes.", "显示置信度最高的 {shown} 个错误。",
    ),
    "compare.dataset_missing": (
        "The dataset folder {root} no longer exists, so the images cannot be shown. "
        "Open the dataset again on the Data page to see them.",
        "数据集文件夹 {root} 已不存在，无法显示图像。请在数据页重新打开该数据集。",
    ),
    "compare.thumbnail_caption": (
        "true: {true} · predicted: {predicted} ({confidence:.0%})",
        "真实：{true} · 预测：{predicted}（{confidence:.0%}）",
    ),
    "compare.thumbnail_missing": ("{path} cannot be read.", "无法读取 {path}。"),

    # Predict page
    "predict.title": ("Predict", "预测"),
    "predict.no_runs": (
        "No trained model yet. Train a run first; every finished or stopped run "
        "can classify images here.",
        "还没有训练好的模型。请先训练；每个已完成或已停止的训练都可以在这里对图像分类。",
    ),
    "predict.pick_run": ("Model (run)", "模型（训练）"),
    "predict.run_accuracy": (" · test accuracy {accuracy:.1%}", " · 测试准确率 {accuracy:.1%}"),
    "predict.top_k": ("Classes to show (top-k)", "显示的类别数（top-k）"),
    "predict.source": ("Images", "图像来源"),
    "predict.source.upload": ("Upload images", "上传图像"),
    "predict.source.test": ("Test images of this run", "该训练的测试图像"),
    "predict.upload": ("Images to classify", "要分类的图像"),
    "predict.upload_help": (
        "JPEG, PNG, WebP, BMP, GIF or TIFF. Each image is resized to the model's input "
        "size, as in training.",
        "支持 JPEG、PNG、WebP、BMP、GIF 或 TIFF。每张图像会像训练时一样缩放到模型的输入尺寸。",
    ),
    "predict.bad_image": (
        "Cannot use {name}: {reason}. Upload a JPEG, PNG, WebP, BMP, GIF or TIFF image.",
        "无法使用 {name}：{reason}。请上传 JPEG、PNG、WebP、BMP、GIF 或 TIFF 图像。",
    ),
    "predict.choose_prompt": (
        "Upload images or pick a test image to see the prediction and its Grad-CAM heat map.",
        "上传图像或选择一张测试图像，即可查看预测结果和 Grad-CAM 热力图。",
    ),
    "predict.too_many": (
        "Showing the first {shown} of {total} images.", "{total} 张图像中只显示前 {shown} 张。",
    ),
    "predict.no_test_images": (
        "This run has no test predictions to pick from.", "该训练没有可供选择的测试图像。",
    ),
    "predict.dataset_missing": (
        "The dataset folder {root} no longer exists, so its test images cannot be shown. "
        "Upload images instead.",
        "数据集文件夹 {root} 已不存在，无法显示测试图像。请改为上传图像。",
    ),
    "predict.test_hint": (
        "{count} of {total} test images, misclassified ones first. The caption is the true class.",
        "{total} 张测试图像中的 {count} 张，分类错误的排在前面。图下文字是真实类别。",
    ),
    "predict.thumbnail_missing": ("{path} cannot be read.", "无法读取 {path}。"),
    "predict.pick": ("Classify", "分类"),
    "predict.picked": ("Shown below", "已在下方显示"),
    "predict.working": ("Classifying {name}…", "正在分类 {name}…"),
    "predict.failed": ("Cannot classify {name}: {error}", "无法对 {name} 分类：{error}"),
    "predict.headline": (
        "**{name}**: {label} ({probability:.1%})", "**{name}**：{label}（{probability:.1%}）",
    ),
    "predict.correct": (":green[correct] (true class: {true})", ":green[正确]（真实类别：{true}）"),
    "predict.wrong": (":red[wrong] (true class: {true})", ":red[错误]（真实类别：{true}）"),
    "predict.original": ("Image", "原图"),
    "predict.heatmap": ("Grad-CAM for {label}", "{label} 的 Grad-CAM"),
    "predict.heatmap_hint": (
        "Red marks the regions that raised the score of the top class most. The heat map "
        "comes from backbone layer {layer} ({rows}×{columns} cells for a {size} px input), "
        "so it is coarse.",
        "红色表示最能提高首选类别得分的区域。热力图来自主干网络的 {layer} 层"
        "（输入 {size} 像素时为 {rows}×{columns} 个格子），因此比较粗略。",
    ),
    "predict.top_title": ("Top {k} classes", "前 {k} 个类别"),
    "predict.probability": ("Probability", "概率"),
}
