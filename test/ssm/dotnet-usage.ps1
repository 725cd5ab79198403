# Lists the .NET types and static members the given scripts use, as full .NET names, and the C# source of
# their Add-Type calls: the input of the .NET Framework 4.6.2 check (dotnet-framework.test.ts).
param([Parameter(Mandatory = $true)][string[]]$Paths)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$accelerators = @{}
foreach ($entry in ([psobject].Assembly.GetType('System.Management.Automation.TypeAccelerators')::Get).GetEnumerator()) { $accelerators[$entry.Key.ToLowerInvariant()] = $entry.Value.FullName }
# Windows-only accelerators that PowerShell 7 on Linux does not list.
foreach ($pair in @(@('adsi', 'System.DirectoryServices.DirectoryEntry'), @('wmi', 'System.Management.ManagementObject'), @('wmiclass', 'System.Management.ManagementClass'))) { $accelerators[$pair[0]] = $pair[1] }
function Resolve-Name([string]$Name) {
    $plain = $Name -replace '\[\]$', ''
    if ($plain -eq 'ordered') { return $null }
    if ($accelerators.ContainsKey($plain.ToLowerInvariant())) { return $accelerators[$plain.ToLowerInvariant()] }
    # PowerShell also finds a type by its name without the leading "System.".
    if ($plain -notmatch '^(System|Microsoft)\.') { return 'System.' + $plain }
    return $plain
}
$types = @{}
$members = @{}
$addType = New-Object System.Collections.ArrayList
foreach ($path in $Paths) {
    $tokens = $null; $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($path, [ref]$tokens, [ref]$errors)
    foreach ($node in $ast.FindAll({ $true }, $true)) {
        $kind = $node.GetType().Name
        # [Type] expressions, [Type]$x constraints and casts (a cast's TypeConstraintAst is visited too).
        if ($kind -eq 'TypeExpressionAst' -or $kind -eq 'TypeConstraintAst') {
            $full = Resolve-Name $node.TypeName.FullName
            if ($full) { $types[$full] = $true }
        }
        if (($kind -eq 'InvokeMemberExpressionAst' -or $kind -eq 'MemberExpressionAst') -and $node.Static -and $node.Expression -is [System.Management.Automation.Language.TypeExpressionAst] -and $node.Member -is [System.Management.Automation.Language.StringConstantExpressionAst]) {
            $full = Resolve-Name $node.Expression.TypeName.FullName
            if ($full) { $members[$full + '::' + $node.Member.Value] = $true }
        }
        if ($kind -eq 'CommandAst') {
            $name = $node.GetCommandName()
            $elements = @($node.CommandElements)
            if ($name -eq 'New-Object') {
                if (@($elements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] -and $_.ParameterName -like 'Com*' }).Count -gt 0) { continue }
                $typeArgument = @($elements | Select-Object -Skip 1 | Where-Object { $_ -is [System.Management.Automation.Language.StringConstantExpressionAst] }) | Select-Object -First 1
                if ($null -ne $typeArgument) { $full = Resolve-Name $typeArgument.Value; if ($full) { $types[$full] = $true } }
            }
            if ($name -eq 'Add-Type') {
                for ($i = 1; $i -lt $elements.Count - 1; $i++) {
                    if ($elements[$i] -is [System.Management.Automation.Language.CommandParameterAst] -and $elements[$i].ParameterName -eq 'TypeDefinition') { [void]$addType.Add($elements[$i + 1].Value) }
                }
            }
        }
    }
}
[Console]::Out.WriteLine((ConvertTo-Json -Compress -Depth 4 -InputObject ([ordered]@{ types = @($types.Keys | Sort-Object); members = @($members.Keys | Sort-Object); addType = @($addType) })))
