/// The columns of each synthetic feed, as the shipped adapters (adapters/*.yaml) read them.
enum FeedLayout {
    /// 民政: CSV in GB18030, CRLF.
    static let civilAffairs = [
        "人员编号", "姓名", "性别", "身份证号码", "出生日期", "婚姻状况", "联系电话", "户籍地址",
        "是否低保", "低保证号", "低保金额", "残疾证号", "残疾类别", "残疾等级", "高龄津贴", "社区代码",
    ]
    /// 计生: XLSX, dates as Excel serial numbers.
    static let familyPlanning = [
        "档案编号", "姓名", "性别", "身份证号", "出生日期", "婚姻状况", "户口簿号", "与户主关系",
        "现有子女数", "男孩数", "女孩数", "独生子女证号", "发证日期", "联系电话",
    ]
    /// 党员: XML, one <党员 编号="…"> per member.
    static let party = [
        "@编号", "姓名", "性别", "公民身份号码", "出生日期", "政治面貌", "所在支部", "党员状态", "入党时间",
        "转正时间", "组织关系", "党费缴至", "联系电话",
    ]
    /// 社保: JSON Lines with the 金保工程 field codes.
    static let socialSecurity = [
        "aac001", "aac002", "aac003", "aac004", "aac006", "aab001", "aab004", "aac008", "aac031",
        "aae140", "aac049", "aae005",
    ]
}
