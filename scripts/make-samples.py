#!/usr/bin/env python3
"""Writes the small sample feeds in adapters/samples/ (synthetic people, no real data).

The same dozen residents appear in several feeds, with the entry errors real exports have:
a mistyped ID check digit, a 15-digit old ID, traditional characters, a middle-dot variant,
an Excel-damaged ID, a missing source key, a ragged row and an empty required name.
Run it again after changing it; the files are committed.
"""
import csv, io, json, os, zipfile
from xml.sax.saxutils import escape

OUT = os.path.join(os.path.dirname(__file__), "..", "adapters", "samples")
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]

def cid(division, birth, seq):
    body = f"{division}{birth}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]

# name, sex (1/2), birth yyyymmdd, sequence, phone
people = [
    ("张伟", 1, "19850302", 11, "13812345678"),
    ("王芳", 2, "19870615", 22, "13912345670"),
    ("欧阳娜娜", 2, "19920101", 42, "13712345671"),
    ("买买提·艾力", 1, "19780920", 31, "15012345672"),
    ("李建国", 1, "19450501", 13, "01062345678"),
    ("刘秀英", 2, "19480812", 24, "01062345678"),
    ("陈静", 2, "19900228", 46, "18612345673"),
    ("赵磊", 1, "19830707", 15, "18712345674"),
    ("於小明", 1, "19951111", 17, "13312345675"),
    ("单丽华", 2, "19600303", 28, "13512345676"),
    ("孙强", 1, "19750119", 19, "13612345677"),
    ("周敏", 2, "19881225", 20, "13812340000"),
]
ids = [cid("110105", b, s) for _, _, b, s, _ in people]

def broken_check(i):  # a mistyped last digit
    return i[:-1] + ("0" if i[-1] != "0" else "1")

def write_civil_affairs():
    header = ["人员编号", "姓名", "性别", "身份证号码", "出生日期", "婚姻状况", "联系电话", "户籍地址",
              "是否低保", "低保证号", "低保金额", "残疾证号", "残疾类别", "残疾等级", "高龄津贴"]
    rows = [
        ["MZ0001", "張偉", "男", ids[0], "1985/3/2", "已婚", "138 1234 5678", "北京市朝阳区幸福路1号院2号楼3单元401", "否", "", "", "", "", "", "否"],
        ["MZ0002", "王芳", "女", ids[1].lower(), "1987-06-15", "已婚", "13912345670", "北京市朝阳区幸福路1号院2号楼3单元401", "否", "", "", "", "", "", "否"],
        ["MZ0005", "李建国", "男", ids[4][:6] + ids[4][8:17], "1945年5月1日", "已婚", "010-62345678", "北京市朝阳区和平街5号", "是", "DB2019-0031", "1,320.00", "", "", "", "是"],
        ["MZ0006", "刘秀英", "女", ids[5], "1948.08.12", "丧偶", "(010)62345678", "北京市朝阳区和平街5号", "是", "DB2019-0032", "1320", ids[5] + "42", "4", "2", "是"],
        ["MZ0010", "单丽华", "女", broken_check(ids[9]), "1960-03-03", "离异", "13512345676", "北京市朝阳区光明里8号", "否", "", "", "", "", "", "否"],
        ["MZ0004", "买买提・艾力", "男", ids[3], "78-09-20", "初婚", "+86 150 1234 5672", "北京市朝阳区团结湖3号", "否", "", "", "", "", "", "否"],
        ["", "无名氏", "男", "", "1970-01-01", "", "", "", "否", "", "", "", "", "", "否"],
        ["MZ0099", "", "女", "", "1970-01-01", "", "", "", "否", "", "", "", "", "", "否"],
        ["MZ0011", "孙强", "男", ids[10], "1975-01-19", "已婚", "13612345677"],
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    with open(os.path.join(OUT, "civil_affairs.csv"), "wb") as f:
        f.write(buffer.getvalue().encode("gb18030"))

def col(i):
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name

def write_xlsx(path, rows, sheet):
    cells_xml = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{col(c)}{r}"
            if value is None or value == "":
                continue
            if isinstance(value, (int, float)):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
        cells_xml.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet_xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                 + "".join(cells_xml) + '</sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)

def serial(yyyymmdd):
    import datetime
    d = datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    return (d - datetime.date(1899, 12, 30)).days

def write_family_planning():
    header = ["档案编号", "姓名", "性别", "身份证号", "出生日期", "婚姻状况", "户口簿号", "与户主关系",
              "现有子女数", "男孩数", "女孩数", "独生子女证号", "发证日期", "联系电话"]
    rows = [header,
        ["JS-0001", "张伟", "男", ids[0], serial("19850302"), "初婚", "110105-00123", "户主", 1, 1, 0, "", "", "13812345678"],
        ["JS-0002", "王芳", "女", ids[1], serial("19870615"), "初婚", "110105-00123", "妻", 1, 1, 0, "", "", "13912345670"],
        ["JS-0005", "李建国", "男", ids[4], serial("19450501"), "初婚", "110105-00456", "户主", 1, 0, 1, "DS1985-0077", serial("19850601"), "01062345678"],
        ["JS-0006", "劉秀英", "女", float(ids[5][:15] + "000") if False else "1.10105194808E+17", serial("19480812"), "丧偶", "110105-00456", "妻", 1, 0, 1, "DS1985-0077", serial("19850601"), "01062345678"],
        ["JS-0007", "陈静", "女", ids[6], serial("19900228"), "未婚", "110105-00789", "女", 0, 0, 0, "", "", "18612345673"],
        ["JS-0012", "周敏", "女", ids[11], "1988-12-25", "再婚", "110105-00901", "户主", 2, 1, 1, "", "", "13812340000"],
    ]
    write_xlsx(os.path.join(OUT, "family_planning.xlsx"), rows, "育龄妇女及家庭")

def write_party():
    members = [
        ("DY0001", people[0], ids[0], "1985.03.02", "中共党员", "第一党支部", "正式党员", "2008-07-01", "2009-07-01", "正常", "2024-06"),
        ("DY0005", people[4], ids[4], "1945.05.01", "中共党员", "离退休党支部", "正式党员", "1968-10-01", "1969-10-01", "正常", "2024-12"),
        ("DY0008", people[7], ids[7], "1983.07.07", "中共预备党员", "第二党支部", "预备党员", "2024-01-15", "", "流动", "2024-09"),
        ("DY0009", people[8], ids[8], "1995.11.11", "中共党员", "第二党支部", "正式党员", "2018-05-04", "2019-05-04", "正常", "2024-10"),
    ]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<党员信息 导出单位="朝阳区某街道党工委" 导出时间="2024-11-01">']
    for key, (name, sex, _, _, phone), id_, birth, status, branch, member, joined, confirmed, relation, dues in members:
        lines.append(f'  <党员 编号="{key}">')
        for tag, value in [("姓名", name), ("性别", str(sex)), ("公民身份号码", id_), ("出生日期", birth), ("政治面貌", status),
                           ("所在支部", branch), ("党员状态", member), ("入党时间", joined), ("转正时间", confirmed),
                           ("组织关系", relation), ("党费缴至", dues + "-01"), ("联系电话", phone)]:
            lines.append(f"    <{tag}>{escape(value)}</{tag}>")
        lines.append("  </党员>")
    lines.append("</党员信息>")
    with open(os.path.join(OUT, "party.xml"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

def write_social_security():
    records = [
        {"aac001": "3101000001", "aac002": ids[0], "aac003": "张伟", "aac004": "1", "aac006": "19850302", "aab001": "91110105MA01", "aab004": "北京某科技有限公司", "aac008": "1", "aac031": "1", "aae140": "110,210,310,410,510", "aac049": "20070701", "aae005": "13812345678"},
        {"aac001": "3101000002", "aac002": ids[1], "aac003": "王芳", "aac004": "2", "aac006": "19870615", "aab001": "91110105MA02", "aab004": "北京某商贸有限公司", "aac008": "1", "aac031": "1", "aae140": "110,310", "aac049": "20090301", "aae005": "13912345670"},
        {"aac001": "3101000003", "aac002": ids[2], "aac003": "歐陽娜娜", "aac004": "2", "aac006": "19920101", "aab001": "91110105MA03", "aab004": "北京某文化传媒有限公司", "aac008": "1", "aac031": "2", "aae140": "110,310", "aac049": "20140801", "aae005": "13712345671"},
        {"aac001": "3101000004", "aac002": ids[3], "aac003": "买买提艾力", "aac004": "1", "aac006": "19780920", "aab001": "", "aab004": "", "aac008": "1", "aac031": "1", "aae140": "110", "aac049": "20000101", "aae005": "15012345672"},
        {"aac001": "3101000005", "aac002": ids[4], "aac003": "李建国", "aac004": "1", "aac006": "19450501", "aab001": "", "aab004": "", "aac008": "2", "aac031": "3", "aae140": "110,310", "aac049": "19920101", "aae005": "01062345678"},
        {"aac001": "3101000008", "aac002": ids[7], "aac003": "赵磊", "aac004": "1", "aac006": "19830707", "aab001": "91110105MA04", "aab004": "北京某物流有限公司", "aac008": "1", "aac031": "1", "aae140": "110,210,310", "aac049": "20050601", "aae005": "18712345674"},
        {"aac001": "3101000011", "aac002": "", "aac003": "孙强", "aac004": "1", "aac006": "1975-01-19", "aab001": "", "aab004": "", "aac008": "1", "aac031": "1", "aae140": "110", "aac049": "19980101", "aae005": "13612345677"},
    ]
    with open(os.path.join(OUT, "social_security.jsonl"), "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.write('{"aac001": "3101000099", "aac003": "截断的记录"\n')


def write_hukou():
    """The fixed-width GBK export read by the Swift example adapter (swift:hukou-fixed-width)."""
    def field(text, width):
        raw = text.encode("gbk")
        return raw + b" " * (width - len(raw))
    lines = []
    for i, (name, sex, birth, _, _) in enumerate(people[:6]):
        book = "110105-00123" if i < 2 else "110105-00456" if i in (4, 5) else f"110105-0{i:04d}"
        relation = "02" if i in (0, 4) else "12" if i in (1, 5) else "01"
        lines.append(field(ids[i], 18) + field(name, 20) + str(sex).encode() + birth.encode() + field(book, 12)
                     + relation.encode() + "北京市朝阳区".encode("gbk"))
    lines.append(b"110105")  # a short line: quarantined
    with open(os.path.join(OUT, "household_register.txt"), "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_civil_affairs()
    write_family_planning()
    write_party()
    write_social_security()
    write_hukou()
    print("wrote", ", ".join(sorted(os.listdir(OUT))))
