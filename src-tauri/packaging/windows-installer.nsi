; Merchant Desk's Windows installer (NSIS 3, built on Linux by `scripts/bundle.sh windows`).
; Installs for the current user (no administrator needed on a shop PC): the app, the WebView2
; loader it links, Start menu and desktop shortcuts, and an entry in Apps & features with its
; uninstaller. The data folder (%APPDATA%\Merchant Desk) is left on uninstall: it holds the
; shop's refunds. Tauri's own NSIS step downloads a plugin from GitHub, which the project's
; machines cannot reach; this script needs only makensis.
;
; makensis -DVERSION=0.2.0 -DBUILD=<folder with merchant-desk.exe, WebView2Loader.dll,
;          icon.ico> -DOUT=<installer.exe> windows-installer.nsi

Unicode true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!include "MUI2.nsh"

!define PRODUCT "Merchant Desk"
!define PRODUCT_ZH "商户退款台"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\MerchantDesk"

Name "${PRODUCT_ZH} ${PRODUCT}"
OutFile "${OUT}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=0 "FileDescription" "${PRODUCT_ZH} ${PRODUCT} installer"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "LegalCopyright" "Merchant Desk contributors"

!define MUI_ICON "${BUILD}\icon.ico"
!define MUI_UNICON "${BUILD}\icon.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\merchant-desk.exe"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
; Simplified Chinese first: the installer speaks the language Windows speaks.
!insertmacro MUI_LANGUAGE "SimpChinese"
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ; The window is drawn by Microsoft Edge WebView2, part of Windows 11 and of Windows 10 since
  ; its 2021 updates. Without it the app cannot show its window: say where to get it.
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  StrCmp $0 "" 0 done
  ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  StrCmp $0 "" 0 done
  MessageBox MB_OK|MB_ICONEXCLAMATION "需要 Microsoft Edge WebView2 运行时才能显示窗口：请先从 https://go.microsoft.com/fwlink/p/?LinkId=2124703 安装。$\r$\nMicrosoft Edge WebView2 Runtime is needed to show the window: install it from the address above first."
done:
FunctionEnd

Section "Install"
  SetOutPath "$INSTDIR"
  File "${BUILD}\merchant-desk.exe"
  File "${BUILD}\WebView2Loader.dll"
  File "${BUILD}\icon.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${PRODUCT_ZH} ${PRODUCT}.lnk" "$INSTDIR\merchant-desk.exe" "" "$INSTDIR\icon.ico"
  CreateShortcut "$DESKTOP\${PRODUCT_ZH}.lnk" "$INSTDIR\merchant-desk.exe" "" "$INSTDIR\icon.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT_ZH} ${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "Merchant Desk"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\icon.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete "$INSTDIR\merchant-desk.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\icon.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT_ZH} ${PRODUCT}.lnk"
  Delete "$DESKTOP\${PRODUCT_ZH}.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
